package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// KnowledgeQuery runs the statements over the agents' knowledge bases:
// public.ai_knowledge_documents and their searchable chunks,
// public.ai_knowledge_chunks.
type KnowledgeQuery struct{ db DB }

// Knowledge returns the queries over the agents' knowledge bases.
func (s *Store) Knowledge() KnowledgeQuery { return KnowledgeQuery{s.db} }

// KnowledgeDocument is a row of public.ai_knowledge_documents.
type KnowledgeDocument struct {
	ID       string
	Title    string
	Category string
	Content  string
}

// InsertDocumentParams are a new knowledge document's columns.
type InsertDocumentParams struct {
	TenantID string
	AgentID  string
	Title    string
	Category string
	Content  string
}

const knowledgeInsertDocumentSQL = `
INSERT INTO public.ai_knowledge_documents (tenant_id, agent_id, title, category, content)
VALUES ($1, $2, $3, $4, $5) RETURNING id`

// InsertDocument stores a document and returns its id (its chunks are
// CopyChunks).
func (q KnowledgeQuery) InsertDocument(ctx context.Context, p InsertDocumentParams) (string, error) {
	var id string
	err := q.db.QueryRow(ctx, knowledgeInsertDocumentSQL, p.TenantID, p.AgentID, p.Title, p.Category, p.Content).Scan(&id)
	if err != nil {
		return "", fmt.Errorf("store: insert knowledge document: %w", err)
	}
	return id, nil
}

// KnowledgeChunk is a row of public.ai_knowledge_chunks.
type KnowledgeChunk struct {
	TenantID   string
	AgentID    string
	DocumentID string
	Ordinal    int
	Category   string
	Title      string
	Content    string
}

var knowledgeChunkColumns = []string{"tenant_id", "agent_id", "document_id", "ordinal", "category", "title", "content"}

// CopyChunks stores chunks with COPY.
func (q KnowledgeQuery) CopyChunks(ctx context.Context, chunks []KnowledgeChunk) error {
	rows := make([][]any, 0, len(chunks))
	for _, c := range chunks {
		rows = append(rows, []any{c.TenantID, c.AgentID, c.DocumentID, c.Ordinal, c.Category, c.Title, c.Content})
	}
	_, err := q.db.CopyFrom(ctx, pgx.Identifier{"public", "ai_knowledge_chunks"}, knowledgeChunkColumns, pgx.CopyFromRows(rows))
	if err != nil {
		return fmt.Errorf("store: insert knowledge chunks: %w", err)
	}
	return nil
}

const knowledgeDeleteAgentDocumentsSQL = `DELETE FROM public.ai_knowledge_documents WHERE tenant_id = $1 AND agent_id = $2`

// DeleteAgentDocuments deletes an agent's whole knowledge base (the chunks
// go with their documents).
func (q KnowledgeQuery) DeleteAgentDocuments(ctx context.Context, tenantID, agentID string) error {
	if _, err := q.db.Exec(ctx, knowledgeDeleteAgentDocumentsSQL, tenantID, agentID); err != nil {
		return fmt.Errorf("store: delete knowledge documents: %w", err)
	}
	return nil
}

const knowledgeListDocumentsSQL = `
SELECT id, title, category, content FROM public.ai_knowledge_documents
 WHERE tenant_id = $1 AND agent_id = $2 ORDER BY created_at, id`

// ListDocuments lists an agent's documents, oldest first.
func (q KnowledgeQuery) ListDocuments(ctx context.Context, tenantID, agentID string) ([]KnowledgeDocument, error) {
	rows, err := q.db.Query(ctx, knowledgeListDocumentsSQL, tenantID, agentID)
	if err != nil {
		return nil, fmt.Errorf("store: list knowledge: %w", err)
	}
	docs, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (KnowledgeDocument, error) {
		var d KnowledgeDocument
		err := r.Scan(&d.ID, &d.Title, &d.Category, &d.Content)
		return d, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: list knowledge: %w", err)
	}
	return docs, nil
}

// KnowledgeHit is one search result.
type KnowledgeHit struct {
	Title    string
	Category string
	Content  string
	Rank     float64
}

// SearchKnowledgeParams narrow a knowledge search.
type SearchKnowledgeParams struct {
	TenantID string
	AgentID  string
	Query    string
	// Categories narrows the search when not empty (never nil: the
	// statement takes cardinality of it).
	Categories []string
	Limit      int
}

// knowledgeSearchSQL matches any of the query's stemmed words (OR
// semantics: a WhatsApp question carries many words the documents do not),
// ranking chunks that match more of them, and title matches, higher.
const knowledgeSearchSQL = `
WITH q AS (
  SELECT to_tsquery('simple', string_agg(quote_literal(lexeme), ' | ')) AS q
    FROM unnest(to_tsvector('portuguese', $3))
)
SELECT c.title, c.category, c.content, ts_rank_cd(c.tsv, q.q) AS rank
  FROM public.ai_knowledge_chunks c, q
 WHERE c.tenant_id = $1 AND c.agent_id = $2
   AND q.q IS NOT NULL AND c.tsv @@ q.q
   AND (cardinality($4::text[]) = 0 OR c.category = ANY($4))
 ORDER BY rank DESC, c.id
 LIMIT $5`

// Search searches an agent's chunks with Postgres full-text search
// (portuguese configuration), best first.
func (q KnowledgeQuery) Search(ctx context.Context, p SearchKnowledgeParams) ([]KnowledgeHit, error) {
	rows, err := q.db.Query(ctx, knowledgeSearchSQL, p.TenantID, p.AgentID, p.Query, p.Categories, p.Limit)
	if err != nil {
		return nil, fmt.Errorf("store: search knowledge: %w", err)
	}
	hits, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (KnowledgeHit, error) {
		var h KnowledgeHit
		err := r.Scan(&h.Title, &h.Category, &h.Content, &h.Rank)
		return h, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: search knowledge: %w", err)
	}
	return hits, nil
}
