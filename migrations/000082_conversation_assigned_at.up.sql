-- Why: a send with enableAI (and an agentId) assigns the conversation with
-- that contact to the agent; the runtime applies it when the contact next
-- writes. assigned_at records the latest assignment (API, runtime or such a
-- send), so an older send never overrides a newer explicit assignment.
BEGIN;
ALTER TABLE public.ai_conversations ADD COLUMN assigned_at timestamptz;
UPDATE public.ai_conversations SET assigned_at = created_at;
COMMIT;
