-- Why: revert 000080 (agent slugs).
BEGIN;
DROP INDEX IF EXISTS public.ai_agents_tenant_slug_idx;
ALTER TABLE public.ai_agents DROP COLUMN IF EXISTS slug;
COMMIT;
