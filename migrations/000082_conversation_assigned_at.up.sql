-- Why: a send with enableAI (and an agentId) assigns the conversation with
-- that contact to the agent; the runtime applies it when the contact next
-- writes. assigned_at records the latest assignment (API, runtime, such a
-- send, or a client changing agent_id directly: the trigger stamps it), so
-- an older send never overrides a newer explicit assignment.
BEGIN;
ALTER TABLE public.ai_conversations ADD COLUMN assigned_at timestamptz;
UPDATE public.ai_conversations SET assigned_at = created_at;

CREATE FUNCTION wa.stamp_conversation_assignment() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  IF NEW.agent_id IS DISTINCT FROM OLD.agent_id AND NEW.assigned_at IS NOT DISTINCT FROM OLD.assigned_at THEN
    NEW.assigned_at := now();
  END IF;
  RETURN NEW;
END $$;
CREATE TRIGGER ai_conversations_assignment BEFORE UPDATE OF agent_id ON public.ai_conversations
  FOR EACH ROW EXECUTE FUNCTION wa.stamp_conversation_assignment();
COMMIT;
