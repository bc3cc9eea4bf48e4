-- Why: revert 000082 (ai_conversations.assigned_at).
BEGIN;
ALTER TABLE public.ai_conversations DROP COLUMN IF EXISTS assigned_at;
COMMIT;
