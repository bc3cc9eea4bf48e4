-- Why: WhatsApp Web in late 2026 needs two pieces of state. (1) Brazil's
-- ninth digit: WhatsApp knows an old account under the eight-digit number and
-- a new one under the nine-digit number and silently drops messages to the
-- other form, so the provider asks IsOnWhatsApp before the first send to a
-- number and caches the answer per session, with an expiry, in
-- wa.recipient_resolutions (private: sidecar state). (2) Passkey linking:
-- WhatsApp may ask for a passkey during pairing; the WebAuthn request options
-- are published in whatsapp_sessions.passkey_request so the tenant's
-- frontend can call navigator.credentials.get(). A trigger clears them as soon
-- as the session leaves the passkey states, so a stale challenge never stays
-- in the row.
BEGIN;

CREATE TABLE wa.recipient_resolutions (
  tenant_id    uuid NOT NULL REFERENCES public.tenants(id) ON DELETE CASCADE,
  session_id   uuid NOT NULL REFERENCES public.whatsapp_sessions(id) ON DELETE CASCADE,
  -- number: international digits as given; jid: the JID WhatsApp knows (NULL
  -- when the number has no account); sent_to: the JID the last message
  -- actually went to (whatsmeow's SendResponse.Chat, often the LID).
  number       text NOT NULL,
  on_whatsapp  boolean NOT NULL,
  jid          text,
  sent_to      text,
  resolved_at  timestamptz NOT NULL DEFAULT now(),
  expires_at   timestamptz NOT NULL,
  PRIMARY KEY (tenant_id, session_id, number)
);
CREATE INDEX recipient_resolutions_expires_idx ON wa.recipient_resolutions (expires_at);
REVOKE ALL ON wa.recipient_resolutions FROM PUBLIC, anon, authenticated;

ALTER TABLE public.whatsapp_sessions ADD COLUMN passkey_request jsonb;
COMMENT ON COLUMN public.whatsapp_sessions.passkey_request IS
  'WebAuthn request options (publicKey of navigator.credentials.get) while state is passkey_required; written by zapbase only.';

CREATE FUNCTION wa.clear_stale_passkey_request() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  IF NEW.state NOT IN ('passkey_required', 'passkey_confirmation') THEN
    NEW.passkey_request := NULL;
  END IF;
  RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION wa.clear_stale_passkey_request() FROM PUBLIC, anon, authenticated;

CREATE TRIGGER whatsapp_sessions_clear_passkey BEFORE INSERT OR UPDATE ON public.whatsapp_sessions
  FOR EACH ROW EXECUTE FUNCTION wa.clear_stale_passkey_request();

COMMIT;
