-- Why: reverts the slug grant.
BEGIN;
REVOKE INSERT (slug), UPDATE (slug) ON public.ai_agents FROM authenticated;
COMMIT;
