-- Why: an agent's slug (migration 000080, the annex's agentId) is part of
-- its configuration, which the policy matrix lets owners and admins write
-- through supabase-js; 000080 ran after the lockdown (000070) and so added a
-- column no API role may write. Grant it like the other agent columns.
BEGIN;
GRANT INSERT (slug), UPDATE (slug) ON public.ai_agents TO authenticated;
COMMIT;
