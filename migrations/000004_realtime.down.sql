-- Why: undo 000004 (Realtime publication membership and broadcast triggers).
BEGIN;
DROP TRIGGER IF EXISTS messages_broadcast ON public.messages;
DROP TRIGGER IF EXISTS whatsapp_sessions_broadcast ON public.whatsapp_sessions;
DROP TRIGGER IF EXISTS ai_conversations_broadcast ON public.ai_conversations;
DROP FUNCTION IF EXISTS wa.broadcast_tenant_change();
DO $$
BEGIN
  IF to_regclass('realtime.messages') IS NOT NULL THEN
    DROP POLICY IF EXISTS zapbase_tenant_topic_select ON realtime.messages;
  END IF;
  IF EXISTS (SELECT 1 FROM pg_publication WHERE pubname = 'supabase_realtime') THEN
    IF EXISTS (SELECT 1 FROM pg_publication_tables WHERE pubname = 'supabase_realtime' AND tablename = 'messages' AND schemaname = 'public') THEN
      ALTER PUBLICATION supabase_realtime DROP TABLE public.messages;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_publication_tables WHERE pubname = 'supabase_realtime' AND tablename = 'whatsapp_sessions' AND schemaname = 'public') THEN
      ALTER PUBLICATION supabase_realtime DROP TABLE public.whatsapp_sessions;
    END IF;
    IF EXISTS (SELECT 1 FROM pg_publication_tables WHERE pubname = 'supabase_realtime' AND tablename = 'ai_conversations' AND schemaname = 'public') THEN
      ALTER PUBLICATION supabase_realtime DROP TABLE public.ai_conversations;
    END IF;
  END IF;
END $$;
COMMIT;
