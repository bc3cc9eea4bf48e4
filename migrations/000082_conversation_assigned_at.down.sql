-- Why: revert 000082 (ai_conversations.assigned_at).
BEGIN;
DROP TRIGGER IF EXISTS ai_conversations_assignment ON public.ai_conversations;
DROP FUNCTION IF EXISTS wa.stamp_conversation_assignment();
ALTER TABLE public.ai_conversations DROP COLUMN IF EXISTS assigned_at;
COMMIT;
