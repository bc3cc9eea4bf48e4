package store

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// RecipientResolutionQuery runs the statements of wa.recipient_resolutions
// (which numbers have a WhatsApp account, cached per session).
type RecipientResolutionQuery struct{ db DB }

// RecipientResolutions returns the recipient resolution queries.
func (s *Store) RecipientResolutions() RecipientResolutionQuery {
	return RecipientResolutionQuery{s.db}
}

// RecipientResolution is a cached answer for a number.
type RecipientResolution struct {
	OnWhatsApp bool
	JID        string
}

// CachedResolution answers an unexpired resolution of number (ok false: none).
func (q RecipientResolutionQuery) CachedResolution(ctx context.Context, tenantID, sessionID, number string) (r RecipientResolution, ok bool, err error) {
	var jid *string
	err = q.db.QueryRow(ctx, `
SELECT on_whatsapp, jid FROM wa.recipient_resolutions
 WHERE tenant_id = $1 AND session_id = $2 AND number = $3 AND expires_at > now()`, tenantID, sessionID, number).
		Scan(&r.OnWhatsApp, &jid)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("store: lookup number resolution: %w", err)
	}
	r.JID = orEmpty(jid)
	return r, true, nil
}

// SaveResolutionParams are a resolution to cache for TTL.
type SaveResolutionParams struct {
	TenantID, SessionID string
	Number              string
	OnWhatsApp          bool
	JID                 string
	TTL                 time.Duration
}

const storeResolutionSQL = `
INSERT INTO wa.recipient_resolutions (tenant_id, session_id, number, on_whatsapp, jid, resolved_at, expires_at)
VALUES ($1, $2, $3, $4, nullif($5, ''), now(), now() + $6::interval)
ON CONFLICT (tenant_id, session_id, number) DO UPDATE
   SET on_whatsapp = excluded.on_whatsapp, jid = excluded.jid,
       resolved_at = excluded.resolved_at, expires_at = excluded.expires_at`

// SaveResolution caches a resolution.
func (q RecipientResolutionQuery) SaveResolution(ctx context.Context, p SaveResolutionParams) error {
	_, err := q.db.Exec(ctx, storeResolutionSQL, p.TenantID, p.SessionID, p.Number, p.OnWhatsApp, p.JID, p.TTL.String())
	if err != nil {
		return fmt.Errorf("store: store number resolution %s: %w", p.Number, err)
	}
	return nil
}

// RecordSentTo keeps the JID a message to number actually went to.
func (q RecipientResolutionQuery) RecordSentTo(ctx context.Context, tenantID, sessionID, number, sentTo string) error {
	if _, err := q.db.Exec(ctx, `
UPDATE wa.recipient_resolutions SET sent_to = $4
 WHERE tenant_id = $1 AND session_id = $2 AND number = $3 AND sent_to IS DISTINCT FROM $4`,
		tenantID, sessionID, number, sentTo); err != nil {
		return fmt.Errorf("store: record sent-to jid: %w", err)
	}
	return nil
}
