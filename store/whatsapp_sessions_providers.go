package store

// The statements providers need on public.whatsapp_sessions: reads through
// their narrow store interfaces, writes through the host's event sink or,
// for Meta's credentials, in one transaction with wa.session_secrets and
// wa.meta_numbers (meta_sessions.go).

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/zapbase/zapbase/providers"
)

// MetaStatus reads a Meta session's state (state, reason, until); any
// failure, a missing row included, is an error (pgx.ErrNoRows wrapped).
func (q SessionQuery) MetaStatus(ctx context.Context, sessionID string) (providers.SessionState, error) {
	var s providers.SessionState
	var reason *string
	err := q.db.QueryRow(ctx, `
SELECT state, state_reason, state_until FROM public.whatsapp_sessions WHERE id = $1 AND provider_type = `+sqlMeta,
		sessionID).Scan(&s.State, &reason, &s.Until)
	if err != nil {
		return s, fmt.Errorf("store: meta session status: %w", err)
	}
	s.Reason = orEmpty(reason)
	return s, nil
}

// PendingMetaVerifications lists the Meta sessions with credentials whose
// verification a restart interrupted (connecting or unreachable).
func (q SessionQuery) PendingMetaVerifications(ctx context.Context) ([]string, error) {
	rows, err := q.db.Query(ctx, `
SELECT id::text FROM public.whatsapp_sessions
 WHERE provider_type = `+sqlMeta+` AND state IN (`+sqlStateConnecting+`, `+sqlStateUnreachable+`)
   AND EXISTS (SELECT 1 FROM wa.session_secrets sec WHERE sec.session_id = whatsapp_sessions.id)`)
	if err != nil {
		return nil, fmt.Errorf("store: list meta sessions to verify: %w", err)
	}
	ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("store: list meta sessions to verify: %w", err)
	}
	return ids, nil
}

// MetaSession is a Meta session with its sealed credentials (KeyID empty
// when it has none).
type MetaSession struct {
	TenantID    string
	SessionID   string
	PhoneNumber string
	State       string
	Until       *time.Time
	KeyID       string
	Sealed      []byte
}

// MetaSession loads a Meta session and its sealed credentials (ok false: no
// such session).
func (q SessionQuery) MetaSession(ctx context.Context, sessionID string) (MetaSession, bool, error) {
	var r MetaSession
	var keyID *string
	err := q.db.QueryRow(ctx, `
SELECT s.tenant_id, s.id, s.phone_number, s.state, s.state_until, sec.key_id, sec.ciphertext
  FROM public.whatsapp_sessions s
  LEFT JOIN wa.session_secrets sec ON sec.session_id = s.id
 WHERE s.id = $1 AND s.provider_type = `+sqlMeta, sessionID).
		Scan(&r.TenantID, &r.SessionID, &r.PhoneNumber, &r.State, &r.Until, &keyID, &r.Sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("store: load session %s: %w", sessionID, err)
	}
	r.KeyID = orEmpty(keyID)
	return r, true, nil
}

// updateMetaSession makes a session of the tenant a Meta session being
// verified; false when there is no such session.
func (q SessionQuery) updateMetaSession(ctx context.Context, sessionID, tenantID string, data []byte) (bool, error) {
	tag, err := q.db.Exec(ctx, `
UPDATE public.whatsapp_sessions
   SET provider_type = `+sqlMeta+`, session_data = session_data || $3::jsonb,
       state = `+sqlStateConnecting+`, state_reason = NULL, state_until = NULL, is_active = true
 WHERE id = $1 AND tenant_id = $2`, sessionID, tenantID, data)
	if err != nil {
		return false, fmt.Errorf("update session: %w", err)
	}
	return tag.RowsAffected() > 0, nil
}

// insertMetaSession creates a Meta session being verified (a unique
// violation, wrapped, when the number has a session already).
func (q SessionQuery) insertMetaSession(ctx context.Context, sessionID, tenantID, phone string, data []byte) error {
	_, err := q.db.Exec(ctx, `
INSERT INTO public.whatsapp_sessions (id, tenant_id, phone_number, provider_type, session_data, state)
VALUES ($1, $2, $3, `+sqlMeta+`, $4, `+sqlStateConnecting+`)`, sessionID, tenantID, phone, data)
	if err != nil {
		return fmt.Errorf("insert session: %w", err)
	}
	return nil
}

// MergeSessionData merges data (a JSON object) into a session's
// session_data.
func (q SessionQuery) MergeSessionData(ctx context.Context, sessionID string, data []byte) error {
	if _, err := q.db.Exec(ctx, `UPDATE public.whatsapp_sessions SET session_data = session_data || $2::jsonb WHERE id = $1`,
		sessionID, data); err != nil {
		return fmt.Errorf("store: merge session data of %s: %w", sessionID, err)
	}
	return nil
}

// SetPasskeyState writes a passkey state with its WebAuthn options (nil:
// none) in one statement.
func (q SessionQuery) SetPasskeyState(ctx context.Context, sessionID string, st providers.SessionState) error {
	var opts []byte
	if len(st.PasskeyRequest) > 0 {
		opts = st.PasskeyRequest
	}
	if _, err := q.db.Exec(ctx, `
UPDATE public.whatsapp_sessions
   SET state = $2, state_reason = $3, state_until = NULL, qr_code = NULL, pair_code = nullif($4, ''),
       passkey_request = $5
 WHERE id = $1`, sessionID, st.State, st.Reason, st.PairCode, opts); err != nil {
		return fmt.Errorf("store: persist passkey state %s: %w", st.State, err)
	}
	return nil
}

// BaileysSession is what the WhatsApp Web provider reads of its session.
type BaileysSession struct {
	TenantID    string
	PhoneNumber string
	DeviceJID   string
	State       string
	Reason      string
	Until       *time.Time
	QRCode      string
	PairCode    string
	Passkey     []byte
}

// BaileysSession loads a WhatsApp Web session (ok false: no such session).
func (q SessionQuery) BaileysSession(ctx context.Context, sessionID string) (BaileysSession, bool, error) {
	var r BaileysSession
	var jid, reason, qr, pair *string
	err := q.db.QueryRow(ctx, `
SELECT tenant_id::text, phone_number, device_jid, state, state_reason, state_until, qr_code, pair_code, passkey_request
  FROM public.whatsapp_sessions WHERE id = $1 AND provider_type = `+sqlBaileys, sessionID).
		Scan(&r.TenantID, &r.PhoneNumber, &jid, &r.State, &reason, &r.Until, &qr, &pair, &r.Passkey)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("store: load session %s: %w", sessionID, err)
	}
	r.DeviceJID, r.Reason, r.QRCode, r.PairCode = orEmpty(jid), orEmpty(reason), orEmpty(qr), orEmpty(pair)
	return r, true, nil
}
