BEGIN;
DROP TRIGGER IF EXISTS whatsapp_sessions_clear_passkey ON public.whatsapp_sessions;
DROP FUNCTION IF EXISTS wa.clear_stale_passkey_request();
ALTER TABLE public.whatsapp_sessions DROP COLUMN IF EXISTS passkey_request;
DROP TABLE IF EXISTS wa.recipient_resolutions;
COMMIT;
