-- Why: WhatsApp Web (whatsmeow) needs three things of its own. (1) Contacts
-- are addressed by phone number and by LID (WhatsApp's hidden linked id);
-- both are kept and linked per session so conversations survive the switch.
-- (2) Session leases spread devices across replicas: live replicas register
-- in wa.lease_holders so each can compute its fair share. (3) Dispatch must
-- hand a baileys row to the replica driving its device: wa.session_owned_by
-- is the claim condition and wa.notify_session_owner wakes that replica
-- through a pg_notify channel of its own.
BEGIN;

CREATE TABLE wa.contact_identities (
  tenant_id     uuid NOT NULL REFERENCES public.tenants(id) ON DELETE CASCADE,
  session_id    uuid NOT NULL REFERENCES public.whatsapp_sessions(id) ON DELETE CASCADE,
  -- lid is the full JID (…@lid); phone_number international digits.
  lid           text NOT NULL,
  phone_number  text NOT NULL,
  push_name     text,
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, session_id, lid)
);
CREATE UNIQUE INDEX contact_identities_phone_idx ON wa.contact_identities (tenant_id, session_id, phone_number);

CREATE TABLE wa.lease_holders (
  holder      text PRIMARY KEY,
  started_at  timestamptz NOT NULL DEFAULT now(),
  expires_at  timestamptz NOT NULL
);

-- The channel a holder LISTENs on: identifiers are limited to 63 bytes, so
-- the holder name is hashed.
CREATE FUNCTION wa.lease_channel(holder text) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = '' AS $$
  SELECT 'zapbase_wa_' || md5(holder)
$$;

-- True when holder currently drives session_id (unexpired lease).
CREATE FUNCTION wa.session_owned_by(session_id uuid, holder text) RETURNS boolean
LANGUAGE sql STABLE SET search_path = '' AS $$
  SELECT EXISTS (SELECT 1 FROM wa.session_leases l
                  WHERE l.session_id = $1 AND l.holder = $2 AND l.expires_at > now())
$$;

-- Sends payload to the replica that drives session_id; returns false when no
-- replica holds it (the new owner reconciles when it acquires the lease).
CREATE FUNCTION wa.notify_session_owner(session_id uuid, payload text) RETURNS boolean
LANGUAGE plpgsql SET search_path = '' AS $$
DECLARE
  h text;
BEGIN
  SELECT l.holder INTO h FROM wa.session_leases l
   WHERE l.session_id = $1 AND l.expires_at > now();
  IF h IS NULL THEN
    RETURN false;
  END IF;
  PERFORM pg_notify(wa.lease_channel(h), payload);
  RETURN true;
END $$;

REVOKE ALL ON wa.contact_identities, wa.lease_holders FROM PUBLIC, anon, authenticated;
REVOKE ALL ON FUNCTION wa.lease_channel(text), wa.session_owned_by(uuid, text),
  wa.notify_session_owner(uuid, text) FROM PUBLIC, anon, authenticated;

COMMIT;
