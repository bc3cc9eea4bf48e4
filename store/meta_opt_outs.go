package store

import (
	"context"
	"fmt"
	"time"
)

// MetaOptOutQuery runs the statements of wa.meta_opt_outs (a customer's
// marketing preference).
type MetaOptOutQuery struct{ db DB }

// MetaOptOuts returns the Meta opt-out queries.
func (s *Store) MetaOptOuts() MetaOptOutQuery { return MetaOptOutQuery{s.db} }

// SetOptOutParams are a customer's preference for a category at At.
type SetOptOutParams struct {
	TenantID, SessionID string
	Contact, Category   string
	OptedOut            bool
	Detail              string
	At                  time.Time
}

// SetOptOut records a marketing preference; an older change never
// overwrites a newer.
func (q MetaOptOutQuery) SetOptOut(ctx context.Context, p SetOptOutParams) error {
	_, err := q.db.Exec(ctx, `
INSERT INTO wa.meta_opt_outs AS o (tenant_id, session_id, contact, category, opted_out, detail, changed_at)
VALUES ($1, $2, $3, $4, $5, nullif($6, ''), $7)
ON CONFLICT (tenant_id, session_id, contact, category) DO UPDATE
   SET opted_out = EXCLUDED.opted_out, detail = EXCLUDED.detail, changed_at = EXCLUDED.changed_at, updated_at = now()
 WHERE o.changed_at <= EXCLUDED.changed_at`, p.TenantID, p.SessionID, p.Contact, p.Category, p.OptedOut, p.Detail, p.At)
	if err != nil {
		return fmt.Errorf("store: record marketing preference: %w", err)
	}
	return nil
}

// OptedOutParams name a recipient (a phone in any of Variants or the
// identifier To, and every identity linked to it) and a category.
type OptedOutParams struct {
	TenantID, SessionID string
	Variants            []string
	To                  string
	Category            string
}

// OptedOut reports whether the recipient stopped messages of the category.
func (q MetaOptOutQuery) OptedOut(ctx context.Context, p OptedOutParams) (bool, error) {
	var out bool
	err := q.db.QueryRow(ctx, `
WITH ids AS (
  SELECT unnest($3::text[]) AS id UNION SELECT $4
  UNION SELECT c.wa_id FROM wa.meta_contacts c
         WHERE c.tenant_id = $1 AND c.session_id = $2 AND (c.wa_id = ANY($3) OR c.bsuid = $4 OR c.parent_bsuid = $4) AND c.wa_id IS NOT NULL
  UNION SELECT c.bsuid FROM wa.meta_contacts c
         WHERE c.tenant_id = $1 AND c.session_id = $2 AND (c.wa_id = ANY($3) OR c.bsuid = $4 OR c.parent_bsuid = $4) AND c.bsuid IS NOT NULL
)
SELECT EXISTS (SELECT 1 FROM wa.meta_opt_outs o
  WHERE o.tenant_id = $1 AND o.session_id = $2 AND o.category = $5 AND o.opted_out AND o.contact IN (SELECT id FROM ids))`,
		p.TenantID, p.SessionID, p.Variants, p.To, p.Category).Scan(&out)
	if err != nil {
		return false, fmt.Errorf("store: read marketing preference: %w", err)
	}
	return out, nil
}
