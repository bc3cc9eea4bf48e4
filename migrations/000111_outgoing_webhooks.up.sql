-- Why: outgoing webhooks per tenant (n8n, Typebot, Make, a backend without
-- supabase-js). Subscriptions say where a tenant wants which events; the
-- fan-out reads wa.change_log with one persisted cursor and writes one
-- delivery row per (event, matching subscription) in the same transaction as
-- the cursor advance; delivery workers claim those rows like messages (owner
-- + lease, SKIP LOCKED), retry them with backoff for hours, then dead-letter
-- them. Everything is sidecar-only state in schema wa: no client grants.
BEGIN;

CREATE TABLE wa.webhook_subscriptions (
  id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id          uuid NOT NULL REFERENCES public.tenants(id) ON DELETE CASCADE,
  url                text NOT NULL CHECK (url ~ '^https?://' AND length(url) <= 2048),
  -- Feed topics (message.received, message.status, session.state, ...).
  events             text[] NOT NULL CHECK (cardinality(events) > 0),
  -- Optional filter: only events of this session.
  session_id         uuid,
  description        text CHECK (length(description) <= 200),
  -- Signing secret, AES-256-GCM sealed by package secret (aad: the id).
  secret_key_id      text NOT NULL,
  secret_ciphertext  bytea NOT NULL,
  is_active          boolean NOT NULL DEFAULT true,
  -- Why a subscription was switched off by zapbase (gone: the receiver
  -- answered 410) or by a user (disabled).
  disabled_reason    text,
  disabled_at        timestamptz,
  -- Events are fanned out to a subscription from this moment on (creation,
  -- or the last time it was switched back on): nothing from before it
  -- existed or while it was off.
  active_since       timestamptz NOT NULL DEFAULT now(),
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, id),
  FOREIGN KEY (tenant_id, session_id) REFERENCES public.whatsapp_sessions (tenant_id, id) ON DELETE CASCADE
);
-- The fan-out's idle probe and its per-event match.
CREATE INDEX webhook_subscriptions_active_idx ON wa.webhook_subscriptions (tenant_id) WHERE is_active;

-- Where the fan-out is in wa.change_log: the last (txid, id) handled. One
-- row; the fan-out locks it (FOR UPDATE SKIP LOCKED), so one replica at a
-- time fans out and a crash rolls the advance back with the deliveries.
CREATE TABLE wa.webhook_cursor (
  name        text PRIMARY KEY,
  txid        xid8 NOT NULL,
  id          bigint NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now()
);
-- Start after everything already in the feed: subscriptions only receive
-- what happens after they exist.
INSERT INTO wa.webhook_cursor (name, txid, id)
SELECT 'fanout', coalesce(max(txid), '0'::xid8), coalesce(max(id), 0) FROM wa.change_log;

CREATE TABLE wa.webhook_deliveries (
  id                uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  -- Fan-out order; per-conversation order compares it.
  seq               bigint GENERATED ALWAYS AS IDENTITY,
  tenant_id         uuid NOT NULL REFERENCES public.tenants(id) ON DELETE CASCADE,
  subscription_id   uuid NOT NULL,
  event             text NOT NULL,
  -- The feed position "txid-id": the same for every subscription of an
  -- event and for its replays (receivers dedupe on it).
  event_id          text NOT NULL,
  -- The conversation ("chat:<contact>", or "session:<id>" for session
  -- events): a delivery is not attempted while an older one of the same
  -- subscription and key is pending or being sent.
  ordering_key      text NOT NULL,
  payload           jsonb NOT NULL,
  -- pending (due at next_attempt_at) → sending (claimed) → delivered | dead.
  state             text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'sending', 'delivered', 'dead')),
  attempts          integer NOT NULL DEFAULT 0,
  next_attempt_at   timestamptz NOT NULL DEFAULT now(),
  claimed_by        text,
  claim_expires_at  timestamptz,
  last_attempt_at   timestamptz,
  -- HTTP status of the last answer (NULL: no answer: refused, timeout).
  last_status       integer,
  last_error        text,
  -- The first bytes of the last answer's body (never more).
  last_response     text,
  last_duration_ms  integer,
  delivered_at      timestamptz,
  dead_at           timestamptz,
  replay_of         uuid,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, subscription_id) REFERENCES wa.webhook_subscriptions (tenant_id, id) ON DELETE CASCADE
);
-- The claim, per subscription: due pending rows and expired claims.
CREATE INDEX webhook_deliveries_open_idx ON wa.webhook_deliveries (subscription_id, next_attempt_at, seq)
  WHERE state IN ('pending', 'sending');
-- What a subscription has in flight (its concurrency cap).
CREATE INDEX webhook_deliveries_sending_idx ON wa.webhook_deliveries (subscription_id)
  WHERE state = 'sending';
-- Per-conversation order: is an older one of this chain still open?
CREATE INDEX webhook_deliveries_chain_idx ON wa.webhook_deliveries (subscription_id, ordering_key, seq)
  WHERE state IN ('pending', 'sending');
-- The delivery log, newest first.
CREATE INDEX webhook_deliveries_log_idx ON wa.webhook_deliveries (tenant_id, subscription_id, seq DESC);
-- Retention of finished rows.
CREATE INDEX webhook_deliveries_finished_idx ON wa.webhook_deliveries (updated_at)
  WHERE state IN ('delivered', 'dead');

COMMIT;
