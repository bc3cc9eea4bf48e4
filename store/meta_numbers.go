package store

import (
	"context"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// MetaNumberQuery runs the statements of wa.meta_numbers (the webhook routes
// of the Meta channel: phone number id → session).
type MetaNumberQuery struct{ db DB }

// MetaNumbers returns the Meta number queries.
func (s *Store) MetaNumbers() MetaNumberQuery { return MetaNumberQuery{s.db} }

// MetaRoute is a configured number, its session and its sealed
// credentials.
type MetaRoute struct {
	PhoneNumberID string
	WABAID        string
	TenantID      string
	SessionID     string
	PhoneNumber   string
	KeyID         string
	Sealed        []byte
}

const metaRouteSelect = `
SELECT n.phone_number_id, n.waba_id, n.tenant_id, n.session_id, s.phone_number, sec.key_id, sec.ciphertext
  FROM wa.meta_numbers n
  JOIN public.whatsapp_sessions s ON s.id = n.session_id
  JOIN wa.session_secrets sec ON sec.session_id = n.session_id`

func collectMetaRoutes(rows pgx.Rows, err error) ([]MetaRoute, error) {
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []MetaRoute
	for rows.Next() {
		var r MetaRoute
		if err := rows.Scan(&r.PhoneNumberID, &r.WABAID, &r.TenantID, &r.SessionID, &r.PhoneNumber, &r.KeyID, &r.Sealed); err != nil {
			return nil, fmt.Errorf("scan route: %w", err)
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// RoutesByNumber loads the routes of phone number ids.
func (q MetaNumberQuery) RoutesByNumber(ctx context.Context, ids []string) ([]MetaRoute, error) {
	out, err := collectMetaRoutes(q.db.Query(ctx, metaRouteSelect+` WHERE n.phone_number_id = ANY($1)`, ids))
	if err != nil {
		return nil, fmt.Errorf("store: load routes: %w", err)
	}
	return out, nil
}

// RoutesBySession loads the routes of a session.
func (q MetaNumberQuery) RoutesBySession(ctx context.Context, sessionID string) ([]MetaRoute, error) {
	out, err := collectMetaRoutes(q.db.Query(ctx, metaRouteSelect+` WHERE n.session_id = $1`, sessionID))
	if err != nil {
		return nil, fmt.Errorf("store: load route of session: %w", err)
	}
	return out, nil
}

// RoutesByWABA loads the routes of the numbers of WABAs.
func (q MetaNumberQuery) RoutesByWABA(ctx context.Context, ids []string) ([]MetaRoute, error) {
	out, err := collectMetaRoutes(q.db.Query(ctx, metaRouteSelect+` WHERE n.waba_id = ANY($1)`, ids))
	if err != nil {
		return nil, fmt.Errorf("store: load routes: %w", err)
	}
	return out, nil
}

// MetaWABASession is a session whose number belongs to a WABA.
type MetaWABASession struct {
	TenantID, SessionID, PhoneNumber, State string
}

// SessionsByWABA lists the sessions of every number of a WABA.
func (q MetaNumberQuery) SessionsByWABA(ctx context.Context, wabaID string) ([]MetaWABASession, error) {
	rows, err := q.db.Query(ctx, `
SELECT n.tenant_id::text, n.session_id::text, s.phone_number, s.state
  FROM wa.meta_numbers n JOIN public.whatsapp_sessions s ON s.id = n.session_id
 WHERE n.waba_id = $1 ORDER BY n.session_id`, wabaID)
	if err != nil {
		return nil, fmt.Errorf("store: load sessions of waba %s: %w", wabaID, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[MetaWABASession])
	if err != nil {
		return nil, fmt.Errorf("store: load sessions of waba %s: %w", wabaID, err)
	}
	return out, nil
}

// VerifyTokenKnown reports whether a number has this verify token hash.
func (q MetaNumberQuery) VerifyTokenKnown(ctx context.Context, hash []byte) (bool, error) {
	var ok bool
	err := q.db.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM wa.meta_numbers WHERE verify_token_hash = $1)`, hash).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("store: check verify token: %w", err)
	}
	return ok, nil
}

// replaceOthers drops a session's numbers other than phoneNumberID.
func (q MetaNumberQuery) replaceOthers(ctx context.Context, sessionID, phoneNumberID string) error {
	if _, err := q.db.Exec(ctx, `DELETE FROM wa.meta_numbers WHERE session_id = $1 AND phone_number_id <> $2`,
		sessionID, phoneNumberID); err != nil {
		return fmt.Errorf("replace meta number: %w", err)
	}
	return nil
}

// route routes a number to a session; false when another session owns it.
func (q MetaNumberQuery) route(ctx context.Context, p SaveMetaSessionParams) (bool, error) {
	tag, err := q.db.Exec(ctx, `
INSERT INTO wa.meta_numbers (phone_number_id, session_id, tenant_id, waba_id, verify_token_hash)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (phone_number_id) DO UPDATE SET waba_id = EXCLUDED.waba_id, verify_token_hash = EXCLUDED.verify_token_hash
 WHERE wa.meta_numbers.session_id = EXCLUDED.session_id`,
		p.PhoneNumberID, p.SessionID, p.TenantID, p.WABAID, p.VerifyTokenHash)
	if err != nil {
		return false, fmt.Errorf("route meta number: %w", err)
	}
	return tag.RowsAffected() > 0, nil
}

// forgetSession drops a session's numbers.
func (q MetaNumberQuery) forgetSession(ctx context.Context, sessionID string) error {
	if _, err := q.db.Exec(ctx, `DELETE FROM wa.meta_numbers WHERE session_id = $1`, sessionID); err != nil {
		return fmt.Errorf("forget meta number: %w", err)
	}
	return nil
}
