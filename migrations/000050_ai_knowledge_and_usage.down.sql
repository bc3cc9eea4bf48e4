-- Why: undo 000050 (knowledge base, token ledger, AI tenant settings).
BEGIN;
DROP INDEX IF EXISTS public.messages_conversation_ai_pending_idx;
DROP TABLE IF EXISTS wa.ai_tenant_settings;
DROP TABLE IF EXISTS wa.ai_usage_daily;
DROP TABLE IF EXISTS public.ai_knowledge_chunks;
DROP TABLE IF EXISTS public.ai_knowledge_documents;
COMMIT;
