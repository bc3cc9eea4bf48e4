-- Why: the Meta Cloud API channel needs two private tables. meta_numbers
-- routes webhooks (signed per app, keyed by metadata.phone_number_id or the
-- WABA id) to a session and answers the verify handshake by the hash of the
-- session's verify token; meta_contacts links a customer's phone (wa_id) and
-- business-scoped user id (BSUID) into one contact and tracks the 24-hour
-- customer-service window from the customer's last inbound message.
BEGIN;

CREATE TABLE wa.meta_numbers (
  phone_number_id    text PRIMARY KEY,
  session_id         uuid NOT NULL UNIQUE REFERENCES public.whatsapp_sessions(id) ON DELETE CASCADE,
  tenant_id          uuid NOT NULL REFERENCES public.tenants(id) ON DELETE CASCADE,
  waba_id            text NOT NULL,
  -- sha256 of the verify token: the GET handshake finds the session by it
  -- without decrypting every secret; the token itself is in session_secrets.
  verify_token_hash  bytea NOT NULL,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX meta_numbers_tenant_idx ON wa.meta_numbers (tenant_id);
CREATE INDEX meta_numbers_waba_idx ON wa.meta_numbers (waba_id);
CREATE INDEX meta_numbers_verify_token_idx ON wa.meta_numbers (verify_token_hash);
CREATE TRIGGER meta_numbers_updated_at BEFORE UPDATE ON wa.meta_numbers
  FOR EACH ROW EXECUTE FUNCTION wa.set_updated_at();

CREATE TABLE wa.meta_contacts (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id        uuid NOT NULL REFERENCES public.tenants(id) ON DELETE CASCADE,
  session_id       uuid NOT NULL REFERENCES public.whatsapp_sessions(id) ON DELETE CASCADE,
  wa_id            text,
  bsuid            text,
  profile_name     text,
  username         text,
  -- Start of the 24-hour customer-service window (last message from the
  -- customer). NULL: the customer never wrote; only templates may be sent.
  last_inbound_at  timestamptz,
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  CONSTRAINT meta_contacts_has_identity CHECK (wa_id IS NOT NULL OR bsuid IS NOT NULL)
);
CREATE UNIQUE INDEX meta_contacts_wa_id_idx ON wa.meta_contacts (tenant_id, session_id, wa_id) WHERE wa_id IS NOT NULL;
CREATE UNIQUE INDEX meta_contacts_bsuid_idx ON wa.meta_contacts (tenant_id, session_id, bsuid) WHERE bsuid IS NOT NULL;
CREATE TRIGGER meta_contacts_updated_at BEFORE UPDATE ON wa.meta_contacts
  FOR EACH ROW EXECUTE FUNCTION wa.set_updated_at();

-- The inbox processor claims Meta rows by source.
CREATE INDEX webhook_inbox_source_unprocessed_idx ON wa.webhook_inbox (source, next_attempt_at, id)
  WHERE processed_at IS NULL;

REVOKE ALL ON wa.meta_numbers, wa.meta_contacts FROM PUBLIC, anon, authenticated;

COMMIT;
