-- Why: AI agents need a per-agent knowledge base searchable with Postgres
-- full-text search (portuguese configuration, works on any Postgres), a
-- per-tenant daily token ledger for the budget guardrail, and per-tenant AI
-- settings (tool endpoint, budget) that the frontend must not read. Knowledge
-- tables are public (members manage them with supabase-js, under RLS);
-- usage and settings are private (wa).
BEGIN;

CREATE TABLE public.ai_knowledge_documents (
  id          uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  tenant_id   uuid NOT NULL REFERENCES public.tenants(id) ON DELETE CASCADE,
  agent_id    uuid NOT NULL,
  title       text NOT NULL CHECK (length(title) BETWEEN 1 AND 300),
  -- What the document is about, so tools can narrow the search:
  -- properties, documentation, visits, faq, general …
  category    text NOT NULL DEFAULT 'general' CHECK (category ~ '^[a-z][a-z0-9_]{0,39}$'),
  content     text NOT NULL,
  metadata    jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now(),
  UNIQUE (tenant_id, id),
  FOREIGN KEY (tenant_id, agent_id) REFERENCES public.ai_agents (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX ai_knowledge_documents_agent_idx ON public.ai_knowledge_documents (tenant_id, agent_id);
CREATE TRIGGER ai_knowledge_documents_updated_at BEFORE UPDATE ON public.ai_knowledge_documents
  FOR EACH ROW EXECUTE FUNCTION wa.set_updated_at();

CREATE TABLE public.ai_knowledge_chunks (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  tenant_id    uuid NOT NULL,
  agent_id     uuid NOT NULL,
  document_id  uuid NOT NULL,
  ordinal      integer NOT NULL,
  category     text NOT NULL,
  title        text NOT NULL,
  content      text NOT NULL,
  tsv          tsvector GENERATED ALWAYS AS (
                 setweight(to_tsvector('portuguese', title), 'A') ||
                 setweight(to_tsvector('portuguese', content), 'B')) STORED,
  UNIQUE (document_id, ordinal),
  FOREIGN KEY (tenant_id, document_id) REFERENCES public.ai_knowledge_documents (tenant_id, id) ON DELETE CASCADE
);
CREATE INDEX ai_knowledge_chunks_tsv_idx ON public.ai_knowledge_chunks USING gin (tsv);
CREATE INDEX ai_knowledge_chunks_agent_idx ON public.ai_knowledge_chunks (tenant_id, agent_id, category);

ALTER TABLE public.ai_knowledge_documents ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.ai_knowledge_chunks ENABLE ROW LEVEL SECURITY;

DO $$
DECLARE
  member_check constant text :=
    'tenant_id IN (SELECT tm.tenant_id FROM public.tenant_members tm WHERE tm.user_id = (SELECT auth.uid()))';
BEGIN
  EXECUTE format('CREATE POLICY ai_knowledge_documents_select ON public.ai_knowledge_documents FOR SELECT TO authenticated USING (%s)', member_check);
  EXECUTE format('CREATE POLICY ai_knowledge_documents_insert ON public.ai_knowledge_documents FOR INSERT TO authenticated WITH CHECK (%s)', member_check);
  EXECUTE format('CREATE POLICY ai_knowledge_documents_update ON public.ai_knowledge_documents FOR UPDATE TO authenticated USING (%s) WITH CHECK (%s)', member_check, member_check);
  EXECUTE format('CREATE POLICY ai_knowledge_documents_delete ON public.ai_knowledge_documents FOR DELETE TO authenticated USING (%s)', member_check);
  -- Chunks are derived by the sidecar; members may only read them.
  EXECUTE format('CREATE POLICY ai_knowledge_chunks_select ON public.ai_knowledge_chunks FOR SELECT TO authenticated USING (%s)', member_check);
END $$;

REVOKE ALL ON public.ai_knowledge_documents, public.ai_knowledge_chunks FROM anon, authenticated;
GRANT SELECT, INSERT, UPDATE, DELETE ON public.ai_knowledge_documents TO authenticated;
GRANT SELECT ON public.ai_knowledge_chunks TO authenticated;
GRANT ALL ON public.ai_knowledge_documents, public.ai_knowledge_chunks TO service_role;

-- Tokens spent per tenant and day (UTC), for the daily budget guardrail.
CREATE TABLE wa.ai_usage_daily (
  tenant_id   uuid NOT NULL REFERENCES public.tenants(id) ON DELETE CASCADE,
  day         date NOT NULL,
  tokens_in   bigint NOT NULL DEFAULT 0,
  tokens_out  bigint NOT NULL DEFAULT 0,
  turns       bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (tenant_id, day)
);

-- Per-tenant AI settings. The tool endpoint's HMAC secret and model
-- credentials are sealed in wa.tenant_secrets, never here.
CREATE TABLE wa.ai_tenant_settings (
  tenant_id           uuid PRIMARY KEY REFERENCES public.tenants(id) ON DELETE CASCADE,
  tool_endpoint_url   text CHECK (tool_endpoint_url IS NULL OR tool_endpoint_url ~ '^https?://'),
  daily_token_budget  bigint CHECK (daily_token_budget IS NULL OR daily_token_budget >= 0),
  updated_at          timestamptz NOT NULL DEFAULT now()
);

REVOKE ALL ON wa.ai_usage_daily, wa.ai_tenant_settings FROM PUBLIC, anon, authenticated;

-- The runtime's work queue for a conversation: its inbound rows not yet handled.
CREATE INDEX messages_conversation_ai_pending_idx ON public.messages (conversation_id, created_at)
  WHERE direction = 'inbound' AND NOT ai_processed;

COMMIT;
