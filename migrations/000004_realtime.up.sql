-- Why: the frontend sees status changes, inbound messages, QR codes and
-- conversation state live through Supabase Realtime. Tables emit Postgres
-- Changes only when they are in the supabase_realtime publication (created
-- empty by Supabase; by the dev compat layer on plain Postgres). Where the
-- realtime schema exists (hosted Supabase), a trigger also broadcasts each
-- change to the private topic `tenant:<client_id>`, Supabase's recommended
-- path at scale (one RLS check per join instead of per change and subscriber).
BEGIN;

DO $$
BEGIN
  IF EXISTS (SELECT 1 FROM pg_publication WHERE pubname = 'supabase_realtime') THEN
    IF NOT EXISTS (SELECT 1 FROM pg_publication_tables WHERE pubname = 'supabase_realtime'
                   AND schemaname = 'public' AND tablename = 'messages') THEN
      ALTER PUBLICATION supabase_realtime ADD TABLE public.messages;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_publication_tables WHERE pubname = 'supabase_realtime'
                   AND schemaname = 'public' AND tablename = 'whatsapp_sessions') THEN
      ALTER PUBLICATION supabase_realtime ADD TABLE public.whatsapp_sessions;
    END IF;
    IF NOT EXISTS (SELECT 1 FROM pg_publication_tables WHERE pubname = 'supabase_realtime'
                   AND schemaname = 'public' AND tablename = 'ai_conversations') THEN
      ALTER PUBLICATION supabase_realtime ADD TABLE public.ai_conversations;
    END IF;
  END IF;
END $$;

DO $outer$
BEGIN
  IF to_regprocedure('realtime.broadcast_changes(text,text,text,text,text,record,record,text)') IS NOT NULL THEN
    CREATE FUNCTION wa.broadcast_tenant_change() RETURNS trigger
    LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $fn$
    DECLARE
      cid text;
    BEGIN
      SELECT t.client_id INTO cid FROM public.tenants t
        WHERE t.id = coalesce(NEW.tenant_id, OLD.tenant_id);
      PERFORM realtime.broadcast_changes('tenant:' || cid, TG_OP, TG_OP, TG_TABLE_NAME,
                                         TG_TABLE_SCHEMA, NEW, OLD);
      RETURN NULL;
    END $fn$;
    REVOKE ALL ON FUNCTION wa.broadcast_tenant_change() FROM PUBLIC;
    CREATE TRIGGER messages_broadcast AFTER INSERT OR UPDATE ON public.messages
      FOR EACH ROW EXECUTE FUNCTION wa.broadcast_tenant_change();
    CREATE TRIGGER whatsapp_sessions_broadcast AFTER INSERT OR UPDATE ON public.whatsapp_sessions
      FOR EACH ROW EXECUTE FUNCTION wa.broadcast_tenant_change();
    CREATE TRIGGER ai_conversations_broadcast AFTER INSERT OR UPDATE ON public.ai_conversations
      FOR EACH ROW EXECUTE FUNCTION wa.broadcast_tenant_change();
    -- Members may join their tenant's private topic.
    IF to_regclass('realtime.messages') IS NOT NULL THEN
      EXECUTE $p$CREATE POLICY zapbase_tenant_topic_select ON realtime.messages FOR SELECT TO authenticated
        USING (realtime.topic() IN (SELECT 'tenant:' || t.client_id FROM public.tenants t
               JOIN public.tenant_members tm ON tm.tenant_id = t.id
               WHERE tm.user_id = (SELECT auth.uid())))$p$;
    END IF;
  END IF;
END $outer$;

COMMIT;
