package ai

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zapbase/zapbase"
)

// KnowledgeDocument is one document of an agent's knowledge base.
type KnowledgeDocument struct {
	ID       string `json:"id,omitempty"`
	Title    string `json:"title"`
	Category string `json:"category,omitempty"`
	Content  string `json:"content"`
}

// KnowledgeHit is one search result.
type KnowledgeHit struct {
	Title    string  `json:"title"`
	Category string  `json:"category"`
	Content  string  `json:"content"`
	Rank     float64 `json:"-"`
}

// Knowledge base limits.
const (
	ChunkChars          = 800
	MaxDocumentChars    = 200_000
	MaxDocumentsPerCall = 200
	DefaultSearchLimit  = 3
)

// Chunk splits text into pieces of at most about size characters, on
// paragraph and then sentence boundaries, so each chunk reads on its own.
func Chunk(text string, size int) []string {
	var chunks []string
	var cur strings.Builder
	flush := func() {
		if s := strings.TrimSpace(cur.String()); s != "" {
			chunks = append(chunks, s)
		}
		cur.Reset()
	}
	add := func(piece string) {
		if cur.Len() > 0 && utf8.RuneCountInString(cur.String())+utf8.RuneCountInString(piece)+1 > size {
			flush()
		}
		if cur.Len() > 0 {
			cur.WriteString("\n")
		}
		cur.WriteString(piece)
	}
	for _, para := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n\n") {
		para = strings.TrimSpace(para)
		if para == "" {
			continue
		}
		if utf8.RuneCountInString(para) <= size {
			add(para)
			continue
		}
		for _, sent := range splitSentences(para) {
			for utf8.RuneCountInString(sent) > size { // a sentence longer than a chunk
				r := []rune(sent)
				add(string(r[:size]))
				flush()
				sent = string(r[size:])
			}
			add(sent)
		}
	}
	flush()
	return chunks
}

func splitSentences(p string) []string {
	var out []string
	start := 0
	for i := 0; i < len(p); i++ {
		if (p[i] == '.' || p[i] == '!' || p[i] == '?') && (i+1 == len(p) || p[i+1] == ' ') {
			out = append(out, strings.TrimSpace(p[start:i+1]))
			start = i + 1
		}
	}
	if s := strings.TrimSpace(p[start:]); s != "" {
		out = append(out, s)
	}
	return out
}

func validateDocument(d *KnowledgeDocument) error {
	d.Title = strings.TrimSpace(d.Title)
	d.Category = strings.TrimSpace(strings.ToLower(d.Category))
	if d.Category == "" {
		d.Category = "general"
	}
	if d.Title == "" || utf8.RuneCountInString(d.Title) > 300 {
		return zapbase.Errorf(zapbase.CodeInvalidInput, "knowledgeBase: cada documento precisa de um título (até 300 caracteres)")
	}
	if strings.TrimSpace(d.Content) == "" {
		return zapbase.Errorf(zapbase.CodeInvalidInput, "knowledgeBase: o documento %q está vazio", d.Title)
	}
	if len(d.Content) > MaxDocumentChars {
		return zapbase.Errorf(zapbase.CodeInvalidInput, "knowledgeBase: o documento %q passa de %d caracteres", d.Title, MaxDocumentChars)
	}
	for _, r := range d.Category {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '_') || len(d.Category) > 40 {
			return zapbase.Errorf(zapbase.CodeInvalidInput, "knowledgeBase: categoria inválida %q (use letras minúsculas, números e _)", d.Category)
		}
	}
	return nil
}

// insertDocuments stores documents and their chunks inside tx.
func insertDocuments(ctx context.Context, tx pgx.Tx, tenantID, agentID string, docs []KnowledgeDocument) ([]KnowledgeDocument, error) {
	out := make([]KnowledgeDocument, 0, len(docs))
	for _, d := range docs {
		if err := validateDocument(&d); err != nil {
			return nil, err
		}
		err := tx.QueryRow(ctx, `
INSERT INTO public.ai_knowledge_documents (tenant_id, agent_id, title, category, content)
VALUES ($1, $2, $3, $4, $5) RETURNING id`, tenantID, agentID, d.Title, d.Category, d.Content).Scan(&d.ID)
		if err != nil {
			return nil, fmt.Errorf("insert knowledge document: %w", err)
		}
		rows := [][]any{}
		for i, c := range Chunk(d.Content, ChunkChars) {
			rows = append(rows, []any{tenantID, agentID, d.ID, i, d.Category, d.Title, c})
		}
		_, err = tx.CopyFrom(ctx, pgx.Identifier{"public", "ai_knowledge_chunks"},
			[]string{"tenant_id", "agent_id", "document_id", "ordinal", "category", "title", "content"}, pgx.CopyFromRows(rows))
		if err != nil {
			return nil, fmt.Errorf("insert knowledge chunks: %w", err)
		}
		out = append(out, d)
	}
	return out, nil
}

// searchSQL matches any of the query's stemmed words (OR semantics: a
// WhatsApp question carries many words the documents do not), ranking
// chunks that match more of them, and title matches, higher.
const searchSQL = `
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

// SearchKnowledge searches an agent's knowledge base with Postgres
// full-text search (portuguese configuration). categories narrows the
// search when not empty.
func SearchKnowledge(ctx context.Context, pool *pgxpool.Pool, tenantID, agentID, query string, categories []string, limit int) ([]KnowledgeHit, error) {
	if limit <= 0 {
		limit = DefaultSearchLimit
	}
	if categories == nil {
		categories = []string{}
	}
	rows, err := pool.Query(ctx, searchSQL, tenantID, agentID, query, categories, limit)
	if err != nil {
		return nil, fmt.Errorf("search knowledge: %w", err)
	}
	hits, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (KnowledgeHit, error) {
		var h KnowledgeHit
		err := r.Scan(&h.Title, &h.Category, &h.Content, &h.Rank)
		return h, err
	})
	if err != nil {
		return nil, fmt.Errorf("search knowledge: %w", err)
	}
	return hits, nil
}
