-- Why: a tenant's default agent is said in two places the spec's readers
-- use, tenants.settings.ai.defaultAgentId and ai_agents.is_default, and
-- both are writable (API and supabase-js). They must never disagree, so
-- these triggers keep them equal whoever writes: setting defaultAgentId
-- (a UUID or the agent's slug) moves is_default to that agent and stores
-- its UUID; changing is_default (or deleting the default agent) rewrites
-- defaultAgentId. The runtime reads is_default.
BEGIN;

-- Bring existing tenants in line: a valid settings value wins (that is
-- what the operator asked for), otherwise is_default is written back.
UPDATE public.ai_agents a SET is_default = false
  FROM public.tenants t
 WHERE a.tenant_id = t.id AND a.is_default
   AND EXISTS (SELECT 1 FROM public.ai_agents b
                WHERE b.tenant_id = t.id AND b.id::text = t.settings #>> '{ai,defaultAgentId}' AND b.id <> a.id);
UPDATE public.ai_agents a SET is_default = true
  FROM public.tenants t
 WHERE a.tenant_id = t.id AND a.id::text = t.settings #>> '{ai,defaultAgentId}' AND NOT a.is_default;
UPDATE public.tenants t
   SET settings = jsonb_set(t.settings, '{ai}',
         CASE WHEN jsonb_typeof(t.settings -> 'ai') = 'object' THEN t.settings -> 'ai' ELSE '{}'::jsonb END
         || jsonb_build_object('defaultAgentId', a.id::text))
  FROM public.ai_agents a
 WHERE a.tenant_id = t.id AND a.is_default
   AND (t.settings #>> '{ai,defaultAgentId}') IS DISTINCT FROM a.id::text;
UPDATE public.tenants t
   SET settings = jsonb_set(t.settings, '{ai}', (t.settings -> 'ai') - 'defaultAgentId')
 WHERE jsonb_typeof(t.settings -> 'ai') = 'object' AND t.settings -> 'ai' ? 'defaultAgentId'
   AND NOT EXISTS (SELECT 1 FROM public.ai_agents a WHERE a.tenant_id = t.id AND a.is_default);

CREATE FUNCTION wa.default_agent_from_settings() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  ref text := NULLIF(NEW.settings #>> '{ai,defaultAgentId}', '');
  target uuid;
BEGIN
  IF TG_OP = 'UPDATE' AND ref IS NOT DISTINCT FROM NULLIF(OLD.settings #>> '{ai,defaultAgentId}', '') THEN
    RETURN NEW;
  END IF;
  IF ref IS NULL THEN
    IF NEW.settings ? 'ai' AND jsonb_typeof(NEW.settings -> 'ai') = 'object' THEN
      NEW.settings := jsonb_set(NEW.settings, '{ai}', (NEW.settings -> 'ai') - 'defaultAgentId');
    END IF;
    IF TG_OP = 'UPDATE' THEN
      UPDATE public.ai_agents SET is_default = false WHERE tenant_id = NEW.id AND is_default;
    END IF;
    RETURN NEW;
  END IF;
  SELECT a.id INTO target FROM public.ai_agents a
   WHERE a.tenant_id = NEW.id AND (a.id::text = lower(ref) OR a.slug = ref);
  IF target IS NULL THEN
    RAISE EXCEPTION 'settings.ai.defaultAgentId: agent % not found in this tenant', ref
      USING ERRCODE = 'foreign_key_violation', CONSTRAINT = 'tenants_default_agent_fkey';
  END IF;
  NEW.settings := jsonb_set(NEW.settings, '{ai,defaultAgentId}', to_jsonb(target::text));
  UPDATE public.ai_agents SET is_default = false WHERE tenant_id = NEW.id AND is_default AND id <> target;
  UPDATE public.ai_agents SET is_default = true WHERE tenant_id = NEW.id AND id = target AND NOT is_default;
  RETURN NEW;
END $$;

CREATE TRIGGER tenants_default_agent BEFORE UPDATE OF settings ON public.tenants
  FOR EACH ROW EXECUTE FUNCTION wa.default_agent_from_settings();

CREATE FUNCTION wa.settings_from_default_agent() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  tid uuid;
  current_default text;
BEGIN
  -- Writes made by the tenants trigger above (or by cascades) are already
  -- consistent: do not touch the tenant row being updated.
  IF pg_trigger_depth() > 1 THEN
    RETURN NULL;
  END IF;
  IF TG_OP = 'DELETE' THEN
    tid := OLD.tenant_id;
  ELSE
    tid := NEW.tenant_id;
  END IF;
  SELECT a.id::text INTO current_default FROM public.ai_agents a WHERE a.tenant_id = tid AND a.is_default;
  UPDATE public.tenants t
     SET settings = CASE
           WHEN current_default IS NULL THEN
             CASE WHEN jsonb_typeof(t.settings -> 'ai') = 'object'
                  THEN jsonb_set(t.settings, '{ai}', (t.settings -> 'ai') - 'defaultAgentId')
                  ELSE t.settings END
           ELSE jsonb_set(t.settings, '{ai}',
                  CASE WHEN jsonb_typeof(t.settings -> 'ai') = 'object' THEN t.settings -> 'ai' ELSE '{}'::jsonb END
                  || jsonb_build_object('defaultAgentId', current_default))
         END
   WHERE t.id = tid
     AND (t.settings #>> '{ai,defaultAgentId}') IS DISTINCT FROM current_default;
  RETURN NULL;
END $$;

CREATE TRIGGER ai_agents_default_to_settings
  AFTER INSERT OR DELETE OR UPDATE OF is_default ON public.ai_agents
  FOR EACH ROW EXECUTE FUNCTION wa.settings_from_default_agent();

REVOKE ALL ON FUNCTION wa.default_agent_from_settings(), wa.settings_from_default_agent() FROM PUBLIC;

COMMIT;
