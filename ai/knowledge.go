package ai

import (
	"context"
	"strings"
	"unicode/utf8"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/store"
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

// insertDocuments stores documents and their chunks (st is bound to the
// caller's transaction).
func insertDocuments(ctx context.Context, st *store.Store, tenantID, agentID string, docs []KnowledgeDocument) ([]KnowledgeDocument, error) {
	out := make([]KnowledgeDocument, 0, len(docs))
	for _, d := range docs {
		if err := validateDocument(&d); err != nil {
			return nil, err
		}
		id, err := st.Knowledge().InsertDocument(ctx, store.InsertDocumentParams{
			TenantID: tenantID, AgentID: agentID, Title: d.Title, Category: d.Category, Content: d.Content})
		if err != nil {
			return nil, err
		}
		d.ID = id
		chunks := []store.KnowledgeChunk{}
		for i, c := range Chunk(d.Content, ChunkChars) {
			chunks = append(chunks, store.KnowledgeChunk{TenantID: tenantID, AgentID: agentID, DocumentID: d.ID, Ordinal: i,
				Category: d.Category, Title: d.Title, Content: c})
		}
		if err := st.Knowledge().CopyChunks(ctx, chunks); err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, nil
}

// SearchKnowledge searches an agent's knowledge base with Postgres
// full-text search (portuguese configuration): any of the query's stemmed
// words matches, chunks matching more of them (and in the title) rank
// higher. categories narrows the search when not empty.
func SearchKnowledge(ctx context.Context, st *store.Store, tenantID, agentID, query string, categories []string, limit int) ([]KnowledgeHit, error) {
	if limit <= 0 {
		limit = DefaultSearchLimit
	}
	if categories == nil {
		categories = []string{}
	}
	rows, err := st.Knowledge().Search(ctx, store.SearchKnowledgeParams{
		TenantID: tenantID, AgentID: agentID, Query: query, Categories: categories, Limit: limit})
	if err != nil {
		return nil, err
	}
	hits := make([]KnowledgeHit, len(rows))
	for i, h := range rows {
		hits[i] = KnowledgeHit(h)
	}
	return hits, nil
}
