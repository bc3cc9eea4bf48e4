-- Why: undo 000002 (state machine guards).
BEGIN;
DROP TRIGGER IF EXISTS messages_insert_guard ON public.messages;
DROP TRIGGER IF EXISTS messages_status_guard ON public.messages;
DROP FUNCTION IF EXISTS wa.messages_insert_guard();
DROP FUNCTION IF EXISTS wa.messages_status_guard();
DROP FUNCTION IF EXISTS wa.status_transition_allowed(text, text);
DROP FUNCTION IF EXISTS wa.status_rank(text);
COMMIT;
