-- Why: the Supabase security model. supabase-js talks to these tables as the
-- `authenticated` role with the user's JWT claims; RLS is what keeps tenant A
-- out of tenant B. Every public table gets RLS and per-operation policies TO
-- authenticated, scoped by membership in public.tenant_members, with WITH
-- CHECK on writes so a row can never be inserted into or moved to another
-- tenant. New Supabase projects no longer auto-grant public tables to the API
-- roles, so GRANTs are explicit; wa and whatsmeow are never granted.
-- (select auth.uid()) is wrapped in a sub-select as Supabase recommends, so it
-- is evaluated once per statement, not once per row.
BEGIN;

ALTER TABLE public.tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.tenant_members ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.whatsapp_sessions ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.messages ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.ai_agents ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.ai_conversations ENABLE ROW LEVEL SECURITY;

-- Membership: a user sees only their own membership rows. Other policies
-- read this table through that same policy, so no security-definer helper in
-- an exposed schema is needed.
CREATE POLICY tenant_members_select ON public.tenant_members FOR SELECT TO authenticated
  USING (user_id = (SELECT auth.uid()));

CREATE POLICY tenants_select ON public.tenants FOR SELECT TO authenticated
  USING (id IN (SELECT tm.tenant_id FROM public.tenant_members tm WHERE tm.user_id = (SELECT auth.uid())));
-- Owners and admins may rename their tenant; the id cannot change (WITH CHECK).
CREATE POLICY tenants_update ON public.tenants FOR UPDATE TO authenticated
  USING (id IN (SELECT tm.tenant_id FROM public.tenant_members tm
                WHERE tm.user_id = (SELECT auth.uid()) AND tm.role IN ('owner', 'admin')))
  WITH CHECK (id IN (SELECT tm.tenant_id FROM public.tenant_members tm
                WHERE tm.user_id = (SELECT auth.uid()) AND tm.role IN ('owner', 'admin')));

-- Tenant-owned tables: identical per-operation policies.
DO $$
DECLARE
  t text;
  member_check constant text :=
    'tenant_id IN (SELECT tm.tenant_id FROM public.tenant_members tm WHERE tm.user_id = (SELECT auth.uid()))';
BEGIN
  FOREACH t IN ARRAY ARRAY['whatsapp_sessions', 'messages', 'ai_agents', 'ai_conversations'] LOOP
    EXECUTE format('CREATE POLICY %I ON public.%I FOR SELECT TO authenticated USING (%s)',
                   t || '_select', t, member_check);
    EXECUTE format('CREATE POLICY %I ON public.%I FOR INSERT TO authenticated WITH CHECK (%s)',
                   t || '_insert', t, member_check);
    EXECUTE format('CREATE POLICY %I ON public.%I FOR UPDATE TO authenticated USING (%s) WITH CHECK (%s)',
                   t || '_update', t, member_check, member_check);
    EXECUTE format('CREATE POLICY %I ON public.%I FOR DELETE TO authenticated USING (%s)',
                   t || '_delete', t, member_check);
  END LOOP;
END $$;

-- Grants. anon gets nothing. authenticated gets what its policies allow.
-- service_role (BYPASSRLS in Supabase) gets everything on public, as Supabase
-- grants it by default to existing tables.
REVOKE ALL ON public.tenants, public.tenant_members, public.whatsapp_sessions, public.messages,
  public.ai_agents, public.ai_conversations FROM anon, authenticated;
GRANT SELECT, UPDATE (name, settings) ON public.tenants TO authenticated;
GRANT SELECT ON public.tenant_members TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.whatsapp_sessions, public.messages,
  public.ai_agents, public.ai_conversations TO authenticated;
GRANT ALL ON public.tenants, public.tenant_members, public.whatsapp_sessions, public.messages,
  public.ai_agents, public.ai_conversations TO service_role;

-- Private schemas: explicitly nothing for the API roles.
REVOKE ALL ON SCHEMA wa FROM PUBLIC, anon, authenticated;
REVOKE ALL ON SCHEMA whatsmeow FROM PUBLIC, anon, authenticated;
REVOKE ALL ON ALL TABLES IN SCHEMA wa FROM PUBLIC, anon, authenticated;
REVOKE ALL ON ALL SEQUENCES IN SCHEMA wa FROM PUBLIC, anon, authenticated;

COMMIT;
