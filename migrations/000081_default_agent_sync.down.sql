-- Why: revert 000081 (default agent kept equal in settings and is_default).
BEGIN;
DROP TRIGGER IF EXISTS ai_agents_default_to_settings ON public.ai_agents;
DROP TRIGGER IF EXISTS tenants_default_agent ON public.tenants;
DROP FUNCTION IF EXISTS wa.settings_from_default_agent();
DROP FUNCTION IF EXISTS wa.default_agent_from_settings();
COMMIT;
