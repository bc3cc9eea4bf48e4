-- Why: the original spec's annex A names an agent with an `agentId` the
-- tenant chooses ("real_estate_agent"), usable wherever the API takes
-- {agentId}. It is stored beside the UUID, unique per tenant (another
-- tenant's slug is simply not found), lower-case letters, digits, _ and -,
-- and never shaped like a UUID so the two cannot be confused.
BEGIN;
ALTER TABLE public.ai_agents ADD COLUMN slug text
  CHECK (slug ~ '^[a-z0-9][a-z0-9_-]{0,63}$'
         AND slug !~ '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$');
CREATE UNIQUE INDEX ai_agents_tenant_slug_idx ON public.ai_agents (tenant_id, slug) WHERE slug IS NOT NULL;
COMMIT;
