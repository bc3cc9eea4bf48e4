-- Why: revert 000040 (WhatsApp Web contacts, lease holders, owner wake-up).
BEGIN;
DROP FUNCTION IF EXISTS wa.notify_session_owner(uuid, text);
DROP FUNCTION IF EXISTS wa.session_owned_by(uuid, text);
DROP FUNCTION IF EXISTS wa.lease_channel(text);
DROP TABLE IF EXISTS wa.lease_holders;
DROP TABLE IF EXISTS wa.contact_identities;
COMMIT;
