-- Why: reverts the change feed (SSE and outgoing webhooks read it).
BEGIN;
DROP TRIGGER IF EXISTS whatsapp_sessions_change_log_update ON public.whatsapp_sessions;
DROP TRIGGER IF EXISTS whatsapp_sessions_change_log_insert ON public.whatsapp_sessions;
DROP TRIGGER IF EXISTS messages_change_log_update ON public.messages;
DROP TRIGGER IF EXISTS messages_change_log_insert ON public.messages;
DROP FUNCTION IF EXISTS wa.log_session_changes();
DROP FUNCTION IF EXISTS wa.log_message_change();
DROP TABLE IF EXISTS wa.change_log;
COMMIT;
