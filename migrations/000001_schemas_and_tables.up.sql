-- Why: the core data model of zapbase. Postgres is the source of truth and the
-- queue: tenants, their members, their WhatsApp sessions, messages (outbound
-- rows double as the send queue), AI agents and conversations live in public
-- (RLS-protected, visible to supabase-js); sidecar-private state lives in wa;
-- schema whatsmeow is reserved for whatsmeow's own store (Signal keys).
BEGIN;

CREATE EXTENSION IF NOT EXISTS pgcrypto;

CREATE SCHEMA IF NOT EXISTS wa;
CREATE SCHEMA IF NOT EXISTS whatsmeow;
COMMENT ON SCHEMA wa IS 'zapbase private state (leases, inbox, audit). Never granted to API roles.';
COMMENT ON SCHEMA whatsmeow IS 'whatsmeow store (Signal private keys). Never granted to API roles.';

-- updated_at maintenance for every table that has the column.
CREATE FUNCTION wa.set_updated_at() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  NEW.updated_at := now();
  RETURN NEW;
END $$;

CREATE TABLE public.tenants (
  id                     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  client_id              text NOT NULL UNIQUE CHECK (client_id ~ '^[a-z0-9][a-z0-9_-]{1,62}$'),
  name                   text NOT NULL,
  settings               jsonb NOT NULL DEFAULT '{}'::jsonb,
  default_provider       text NOT NULL DEFAULT 'auto'
                           CHECK (default_provider IN ('baileys', 'meta_api', 'sandbox', 'auto')),
  rate_limit_per_minute  integer NOT NULL DEFAULT 100 CHECK (rate_limit_per_minute > 0),
  max_sessions           integer NOT NULL DEFAULT 10 CHECK (max_sessions > 0),
  is_active              boolean NOT NULL DEFAULT true,
  created_at             timestamptz NOT NULL DEFAULT now(),
  updated_at             timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE public.tenant_members (
  tenant_id   uuid NOT NULL REFERENCES public.tenants(id) ON DELETE CASCADE,
  user_id     uuid NOT NULL REFERENCES auth.users(id) ON DELETE CASCADE,
  role        text NOT NULL DEFAULT 'member' CHECK (role IN ('owner', 'admin', 'member')),
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, user_id)
);
-- RLS policies look memberships up by user: the PK's leading column is tenant_id.
CREATE INDEX tenant_members_user_id_idx ON public.tenant_members (user_id, tenant_id);

CREATE TABLE public.whatsapp_sessions (
  id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id       uuid NOT NULL REFERENCES public.tenants(id) ON DELETE CASCADE,
  phone_number    text NOT NULL CHECK (phone_number ~ '^[0-9]{8,15}$'),
  provider_type   text NOT NULL CHECK (provider_type IN ('baileys', 'meta_api', 'sandbox')),
  -- Non-secret provider metadata. Secrets (tokens, app secrets) are stored
  -- encrypted in wa.session_secrets, never here, so members can read this row.
  session_data    jsonb NOT NULL DEFAULT '{}'::jsonb,
  state           text NOT NULL DEFAULT 'disconnected',
  state_reason    text,
  state_until     timestamptz,
  qr_code         text,
  pair_code       text,
  device_jid      text,
  is_active       boolean NOT NULL DEFAULT true,
  connected_at    timestamptz,
  created_at      timestamptz NOT NULL DEFAULT now(),
  updated_at      timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, phone_number),
  UNIQUE (tenant_id, id)
);
CREATE INDEX whatsapp_sessions_provider_idx ON public.whatsapp_sessions (provider_type, state);

CREATE TABLE public.ai_agents (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id      uuid NOT NULL REFERENCES public.tenants(id) ON DELETE CASCADE,
  name           text NOT NULL CHECK (length(name) BETWEEN 1 AND 120),
  type           text NOT NULL DEFAULT 'custom',
  configuration  jsonb NOT NULL DEFAULT '{}'::jsonb,
  is_active      boolean NOT NULL DEFAULT true,
  is_default     boolean NOT NULL DEFAULT false,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, id)
);
CREATE INDEX ai_agents_tenant_idx ON public.ai_agents (tenant_id, is_active);
-- At most one default agent per tenant.
CREATE UNIQUE INDEX ai_agents_one_default_idx ON public.ai_agents (tenant_id) WHERE is_default;

CREATE TABLE public.ai_conversations (
  id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id            uuid NOT NULL REFERENCES public.tenants(id) ON DELETE CASCADE,
  agent_id             uuid,
  session_id           uuid,
  contact              text NOT NULL,
  state                text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'paused', 'handoff')),
  paused_until         timestamptz,
  context              jsonb NOT NULL DEFAULT '{}'::jsonb,
  consecutive_replies  integer NOT NULL DEFAULT 0,
  last_inbound_at      timestamptz,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, id),
  -- Composite keys: a row can only point at objects of its own tenant
  -- (foreign-key checks bypass RLS, so this is the cross-tenant guard).
  FOREIGN KEY (tenant_id, agent_id) REFERENCES public.ai_agents (tenant_id, id) ON DELETE SET NULL (agent_id),
  FOREIGN KEY (tenant_id, session_id) REFERENCES public.whatsapp_sessions (tenant_id, id) ON DELETE CASCADE
);
CREATE UNIQUE INDEX ai_conversations_contact_idx
  ON public.ai_conversations (tenant_id, session_id, contact) NULLS NOT DISTINCT;
CREATE INDEX ai_conversations_agent_idx ON public.ai_conversations (tenant_id, agent_id);

CREATE TABLE public.messages (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id        uuid NOT NULL REFERENCES public.tenants(id) ON DELETE CASCADE,
  session_id       uuid,
  -- Provider message id (WhatsApp Web id, Meta wamid, sandbox id). For
  -- outbound rows dispatch generates it before sending when the provider
  -- accepts caller ids, so a resend after a crash reuses it.
  message_id       text,
  direction        text NOT NULL DEFAULT 'outbound' CHECK (direction IN ('outbound', 'inbound')),
  from_number      text,
  to_number        text,
  message_type     text NOT NULL DEFAULT 'text' CHECK (message_type IN (
                     'text', 'image', 'video', 'audio', 'voice', 'document', 'sticker', 'location',
                     'contacts', 'template', 'interactive', 'reaction', 'read_mark', 'system', 'unsupported')),
  content          jsonb NOT NULL DEFAULT '{}'::jsonb,
  status           text NOT NULL DEFAULT 'pending' CHECK (status IN (
                     'pending', 'sending', 'sent', 'delivered', 'read', 'played', 'failed', 'received')),
  provider         text NOT NULL DEFAULT 'auto' CHECK (provider IN ('baileys', 'meta_api', 'sandbox', 'auto')),
  error_code       text,
  error_reason     text,
  attempts         integer NOT NULL DEFAULT 0,
  next_attempt_at  timestamptz NOT NULL DEFAULT now(),
  claimed_by       text,
  claim_expires_at timestamptz,
  enable_ai        boolean NOT NULL DEFAULT false,
  ai_processed     boolean NOT NULL DEFAULT false,
  agent_id         uuid,
  conversation_id  uuid,
  metadata         jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  sent_at          timestamptz,
  delivered_at     timestamptz,
  read_at          timestamptz,
  played_at        timestamptz,
  failed_at        timestamptz,
  CONSTRAINT messages_outbound_has_recipient CHECK (direction = 'inbound' OR to_number IS NOT NULL),
  FOREIGN KEY (tenant_id, session_id) REFERENCES public.whatsapp_sessions (tenant_id, id) ON DELETE SET NULL (session_id),
  FOREIGN KEY (tenant_id, agent_id) REFERENCES public.ai_agents (tenant_id, id) ON DELETE SET NULL (agent_id),
  FOREIGN KEY (tenant_id, conversation_id) REFERENCES public.ai_conversations (tenant_id, id) ON DELETE SET NULL (conversation_id)
);
-- Spec indexes: a tenant's timeline, a chat's history, lookup by provider id.
CREATE INDEX messages_tenant_created_idx ON public.messages (tenant_id, created_at DESC);
CREATE INDEX messages_tenant_chat_idx ON public.messages (tenant_id, to_number, created_at);
CREATE INDEX messages_tenant_from_idx ON public.messages (tenant_id, from_number, created_at) WHERE direction = 'inbound';
-- Provider ids are unique per tenant, provider and direction (the same
-- WhatsApp id can be one tenant's outbound and another tenant's inbound row).
CREATE UNIQUE INDEX messages_provider_message_id_idx
  ON public.messages (tenant_id, provider, direction, message_id) WHERE message_id IS NOT NULL;
CREATE INDEX messages_conversation_idx ON public.messages (conversation_id, created_at) WHERE conversation_id IS NOT NULL;
-- Dispatch work: pending outbound rows whose time has come, in order; and
-- claimed rows whose lease may have expired (crash recovery).
CREATE INDEX messages_pending_idx ON public.messages (next_attempt_at, created_at)
  WHERE status = 'pending' AND direction = 'outbound';
CREATE INDEX messages_sending_idx ON public.messages (claim_expires_at) WHERE status = 'sending';
-- AI work: inbound rows not yet handled by an agent.
CREATE INDEX messages_ai_pending_idx ON public.messages (tenant_id, created_at)
  WHERE direction = 'inbound' AND NOT ai_processed;

CREATE TRIGGER tenants_updated_at BEFORE UPDATE ON public.tenants
  FOR EACH ROW EXECUTE FUNCTION wa.set_updated_at();
CREATE TRIGGER whatsapp_sessions_updated_at BEFORE UPDATE ON public.whatsapp_sessions
  FOR EACH ROW EXECUTE FUNCTION wa.set_updated_at();
CREATE TRIGGER ai_agents_updated_at BEFORE UPDATE ON public.ai_agents
  FOR EACH ROW EXECUTE FUNCTION wa.set_updated_at();
CREATE TRIGGER ai_conversations_updated_at BEFORE UPDATE ON public.ai_conversations
  FOR EACH ROW EXECUTE FUNCTION wa.set_updated_at();
CREATE TRIGGER messages_updated_at BEFORE UPDATE ON public.messages
  FOR EACH ROW EXECUTE FUNCTION wa.set_updated_at();

-- Private sidecar state.
CREATE TABLE wa.audit_log (
  id          bigserial PRIMARY KEY,
  tenant_id   uuid REFERENCES public.tenants(id) ON DELETE SET NULL,
  actor       text NOT NULL,
  action      text NOT NULL,
  target      text,
  request_id  text,
  result      text NOT NULL,
  details     jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX audit_log_tenant_idx ON wa.audit_log (tenant_id, created_at DESC);

-- Webhooks (Meta, generic gateways, Supabase) are stored here before the 200
-- and processed asynchronously; dedupe_key makes redelivery idempotent.
CREATE TABLE wa.webhook_inbox (
  id            bigserial PRIMARY KEY,
  source        text NOT NULL,
  tenant_id     uuid REFERENCES public.tenants(id) ON DELETE CASCADE,
  dedupe_key    text NOT NULL,
  payload       bytea NOT NULL,
  received_at   timestamptz NOT NULL DEFAULT now(),
  processed_at  timestamptz,
  attempts      integer NOT NULL DEFAULT 0,
  next_attempt_at timestamptz NOT NULL DEFAULT now(),
  last_error    text,
  UNIQUE (source, dedupe_key)
);
CREATE INDEX webhook_inbox_unprocessed_idx ON wa.webhook_inbox (next_attempt_at, id) WHERE processed_at IS NULL;

-- Which replica drives which WhatsApp Web device (replaces the spec's Redis
-- session cache). A holder that cannot renew stops before the lease expires.
CREATE TABLE wa.session_leases (
  session_id  uuid PRIMARY KEY REFERENCES public.whatsapp_sessions(id) ON DELETE CASCADE,
  holder      text NOT NULL,
  term        bigint NOT NULL DEFAULT 1,
  acquired_at timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL
);
CREATE INDEX session_leases_holder_idx ON wa.session_leases (holder);

-- Encrypted provider credentials (AES-256-GCM; key_id allows key rotation).
CREATE TABLE wa.session_secrets (
  session_id  uuid PRIMARY KEY REFERENCES public.whatsapp_sessions(id) ON DELETE CASCADE,
  tenant_id   uuid NOT NULL REFERENCES public.tenants(id) ON DELETE CASCADE,
  key_id      text NOT NULL,
  ciphertext  bytea NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);

-- Per-tenant secrets (webhook signing secret, model credentials), encrypted.
CREATE TABLE wa.tenant_secrets (
  tenant_id   uuid NOT NULL REFERENCES public.tenants(id) ON DELETE CASCADE,
  name        text NOT NULL,
  key_id      text NOT NULL,
  ciphertext  bytea NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, name)
);

-- Server-to-server API keys: only a SHA-256 hash is stored; shown once.
CREATE TABLE wa.api_keys (
  id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id    uuid NOT NULL REFERENCES public.tenants(id) ON DELETE CASCADE,
  name         text NOT NULL,
  prefix       text NOT NULL,
  key_hash     bytea NOT NULL UNIQUE,
  created_by   text,
  created_at   timestamptz NOT NULL DEFAULT now(),
  last_used_at timestamptz,
  revoked_at   timestamptz
);
CREATE INDEX api_keys_tenant_idx ON wa.api_keys (tenant_id);

-- Idempotency-Key replay store for send endpoints.
CREATE TABLE wa.idempotency_keys (
  tenant_id     uuid NOT NULL REFERENCES public.tenants(id) ON DELETE CASCADE,
  key           text NOT NULL,
  request_hash  bytea NOT NULL,
  status_code   integer,
  response      jsonb,
  created_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, key)
);

COMMIT;
