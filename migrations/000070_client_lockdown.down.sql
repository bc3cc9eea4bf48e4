-- Why: undo 000070; restores the membership-only policies and broad grants
-- of 000003/000050 (the holes of issue 15).
BEGIN;

DROP TRIGGER IF EXISTS ai_conversations_takeover_guard ON public.ai_conversations;
DROP TRIGGER IF EXISTS ai_conversations_assign_guard ON public.ai_conversations;
DROP FUNCTION IF EXISTS wa.ai_conversations_takeover_guard();
DROP FUNCTION IF EXISTS wa.ai_conversations_assign_guard();
DROP TRIGGER IF EXISTS whatsapp_sessions_quota ON public.whatsapp_sessions;
DROP FUNCTION IF EXISTS wa.whatsapp_sessions_quota();

DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT policyname, tablename FROM pg_policies WHERE schemaname = 'public'
           AND tablename IN ('tenants', 'tenant_members', 'whatsapp_sessions', 'messages', 'ai_agents',
                             'ai_conversations', 'ai_knowledge_documents', 'ai_knowledge_chunks')
  LOOP
    EXECUTE format('DROP POLICY %I ON public.%I', r.policyname, r.tablename);
  END LOOP;
END $$;

CREATE POLICY tenant_members_select ON public.tenant_members FOR SELECT TO authenticated
  USING (user_id = (SELECT auth.uid()));
CREATE POLICY tenants_select ON public.tenants FOR SELECT TO authenticated
  USING (id IN (SELECT tm.tenant_id FROM public.tenant_members tm WHERE tm.user_id = (SELECT auth.uid())));
CREATE POLICY tenants_update ON public.tenants FOR UPDATE TO authenticated
  USING (id IN (SELECT tm.tenant_id FROM public.tenant_members tm
                WHERE tm.user_id = (SELECT auth.uid()) AND tm.role IN ('owner', 'admin')))
  WITH CHECK (id IN (SELECT tm.tenant_id FROM public.tenant_members tm
                WHERE tm.user_id = (SELECT auth.uid()) AND tm.role IN ('owner', 'admin')));
DO $$
DECLARE
  t text;
  member_check constant text :=
    'tenant_id IN (SELECT tm.tenant_id FROM public.tenant_members tm WHERE tm.user_id = (SELECT auth.uid()))';
BEGIN
  FOREACH t IN ARRAY ARRAY['whatsapp_sessions', 'messages', 'ai_agents', 'ai_conversations', 'ai_knowledge_documents'] LOOP
    EXECUTE format('CREATE POLICY %I ON public.%I FOR SELECT TO authenticated USING (%s)', t || '_select', t, member_check);
    EXECUTE format('CREATE POLICY %I ON public.%I FOR INSERT TO authenticated WITH CHECK (%s)', t || '_insert', t, member_check);
    EXECUTE format('CREATE POLICY %I ON public.%I FOR UPDATE TO authenticated USING (%s) WITH CHECK (%s)',
                   t || '_update', t, member_check, member_check);
    EXECUTE format('CREATE POLICY %I ON public.%I FOR DELETE TO authenticated USING (%s)', t || '_delete', t, member_check);
  END LOOP;
  EXECUTE format('CREATE POLICY ai_knowledge_chunks_select ON public.ai_knowledge_chunks FOR SELECT TO authenticated USING (%s)', member_check);
END $$;

REVOKE ALL ON public.tenants, public.tenant_members, public.whatsapp_sessions, public.messages,
  public.ai_agents, public.ai_conversations, public.ai_knowledge_documents, public.ai_knowledge_chunks
  FROM anon, authenticated;
GRANT SELECT, UPDATE (name, settings) ON public.tenants TO authenticated;
GRANT SELECT ON public.tenant_members, public.ai_knowledge_chunks TO authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.whatsapp_sessions, public.messages,
  public.ai_agents, public.ai_conversations, public.ai_knowledge_documents TO authenticated;

DROP SCHEMA wa_rls CASCADE;

COMMIT;
