package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// MetaTemplateQuery runs the statements of wa.meta_templates (what webhooks
// told about a WABA's message templates).
type MetaTemplateQuery struct{ db DB }

// MetaTemplates returns the Meta template queries.
func (s *Store) MetaTemplates() MetaTemplateQuery { return MetaTemplateQuery{s.db} }

// MetaTemplateUpdate is one webhook's news about a template (empty fields
// are left as they were; Status, Quality and Category upper case).
type MetaTemplateUpdate struct {
	WABAID, Name, Language, ID string
	Status, Reason             string
	Quality, Category          string
}

const upsertMetaTemplateSQL = `
WITH up AS (
INSERT INTO wa.meta_templates AS t (waba_id, name, language, template_id, status, status_reason, status_at, quality, category)
VALUES ($1, $2, $3, nullif($4, ''), nullif($5, ''), nullif($6, ''), CASE WHEN $5 <> '' THEN now() END, nullif($7, ''), nullif($8, ''))
ON CONFLICT (waba_id, name, language) DO UPDATE
   SET template_id = coalesce(EXCLUDED.template_id, t.template_id),
       status = coalesce(EXCLUDED.status, t.status),
       status_reason = CASE WHEN EXCLUDED.status IS NOT NULL THEN EXCLUDED.status_reason ELSE t.status_reason END,
       status_at = coalesce(EXCLUDED.status_at, t.status_at),
       quality = coalesce(EXCLUDED.quality, t.quality),
       category = coalesce(EXCLUDED.category, t.category),
       updated_at = now()
RETURNING t.waba_id, t.name || ':' || t.language AS key,
          jsonb_strip_nulls(jsonb_build_object('name', t.name, 'language', t.language, 'status', t.status,
            'reason', t.status_reason, 'quality', t.quality, 'category', t.category,
            'updatedAt', to_char(t.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))) AS state
)
UPDATE public.whatsapp_sessions s
   SET session_data = s.session_data || jsonb_build_object('metaTemplates',
         coalesce(s.session_data->'metaTemplates', '{}'::jsonb) || jsonb_build_object(up.key, up.state))
  FROM up, wa.meta_numbers n
 WHERE n.waba_id = up.waba_id AND s.id = n.session_id`

// UpsertTemplate records a template update and, in the same statement,
// mirrors the merged state into session_data.metaTemplates["name:language"]
// of every session of the WABA (member-readable, live through Realtime).
func (q MetaTemplateQuery) UpsertTemplate(ctx context.Context, u MetaTemplateUpdate) error {
	_, err := q.db.Exec(ctx, upsertMetaTemplateSQL, u.WABAID, u.Name, u.Language, u.ID, u.Status, u.Reason, u.Quality, u.Category)
	if err != nil {
		return fmt.Errorf("store: record template %s/%s: %w", u.Name, u.Language, err)
	}
	return nil
}

// MetaTemplateState is what is known about a template.
type MetaTemplateState struct {
	Status, Reason, Quality, Category string
}

// TemplateState reads what is known about a template (ok false: nothing).
// A PAUSED state older than maxPause reads PAUSE_ENDED.
func (q MetaTemplateQuery) TemplateState(ctx context.Context, wabaID, name, language string, maxPause time.Duration) (MetaTemplateState, bool, error) {
	var t MetaTemplateState
	err := q.db.QueryRow(ctx, `
SELECT CASE WHEN status = 'PAUSED' AND status_at < now() - $4::interval THEN 'PAUSE_ENDED' ELSE coalesce(status, '') END,
       coalesce(status_reason, ''), coalesce(quality, ''), coalesce(category, '')
  FROM wa.meta_templates WHERE waba_id = $1 AND name = $2 AND language = $3`, wabaID, name, language, maxPause.String()).
		Scan(&t.Status, &t.Reason, &t.Quality, &t.Category)
	if errors.Is(err, pgx.ErrNoRows) {
		return t, false, nil
	}
	if err != nil {
		return t, false, fmt.Errorf("store: read template %s/%s: %w", name, language, err)
	}
	return t, true, nil
}
