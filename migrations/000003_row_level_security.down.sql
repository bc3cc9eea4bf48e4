-- Why: undo 000003 (policies, RLS and grants).
BEGIN;
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT policyname, tablename FROM pg_policies WHERE schemaname = 'public'
           AND tablename IN ('tenants', 'tenant_members', 'whatsapp_sessions', 'messages', 'ai_agents', 'ai_conversations')
  LOOP
    EXECUTE format('DROP POLICY %I ON public.%I', r.policyname, r.tablename);
  END LOOP;
END $$;
ALTER TABLE public.tenants DISABLE ROW LEVEL SECURITY;
ALTER TABLE public.tenant_members DISABLE ROW LEVEL SECURITY;
ALTER TABLE public.whatsapp_sessions DISABLE ROW LEVEL SECURITY;
ALTER TABLE public.messages DISABLE ROW LEVEL SECURITY;
ALTER TABLE public.ai_agents DISABLE ROW LEVEL SECURITY;
ALTER TABLE public.ai_conversations DISABLE ROW LEVEL SECURITY;
REVOKE ALL ON public.tenants, public.tenant_members, public.whatsapp_sessions, public.messages,
  public.ai_agents, public.ai_conversations FROM authenticated, service_role;
COMMIT;
