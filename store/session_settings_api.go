package store

import (
	"context"
	"fmt"
)

// SessionSettingsRow are a session's stored settings.
type SessionSettingsRow struct {
	RejectCalls bool
	// RejectCallMessage is nil when unset.
	RejectCallMessage *string
	IgnoreGroups      bool
	IgnoreBroadcasts  bool
	AlwaysOnline      bool
	AutoRead          bool
}

const getSessionSettingsSQL = `
SELECT reject_calls, reject_call_message, ignore_groups, ignore_broadcasts, always_online, auto_read
  FROM wa.session_settings WHERE tenant_id = $1 AND session_id = $2`

// Get reads the tenant's settings of sessionID. pgx.ErrNoRows when none
// are stored (the defaults apply).
func (q SessionSettingsQuery) Get(ctx context.Context, tenantID, sessionID string) (SessionSettingsRow, error) {
	var st SessionSettingsRow
	err := q.db.QueryRow(ctx, getSessionSettingsSQL, tenantID, sessionID).
		Scan(&st.RejectCalls, &st.RejectCallMessage, &st.IgnoreGroups, &st.IgnoreBroadcasts, &st.AlwaysOnline, &st.AutoRead)
	if err != nil {
		return st, fmt.Errorf("store: read session settings: %w", err)
	}
	return st, nil
}

// PutSessionSettingsParams are a session's settings to store.
type PutSessionSettingsParams struct {
	TenantID  string
	SessionID string
	// RejectCallMessage "" is stored as NULL.
	RejectCallMessage string
	RejectCalls       bool
	IgnoreGroups      bool
	IgnoreBroadcasts  bool
	AlwaysOnline      bool
	AutoRead          bool
}

const putSessionSettingsSQL = `
INSERT INTO wa.session_settings (session_id, tenant_id, reject_calls, reject_call_message, ignore_groups, ignore_broadcasts, always_online, auto_read)
VALUES ($2, $1, $3, nullif($4, ''), $5, $6, $7, $8)
ON CONFLICT (session_id) DO UPDATE SET reject_calls = excluded.reject_calls, reject_call_message = excluded.reject_call_message,
  ignore_groups = excluded.ignore_groups, ignore_broadcasts = excluded.ignore_broadcasts,
  always_online = excluded.always_online, auto_read = excluded.auto_read, updated_at = now()`

// Put stores a session's settings (all of them).
func (q SessionSettingsQuery) Put(ctx context.Context, p PutSessionSettingsParams) error {
	if _, err := q.db.Exec(ctx, putSessionSettingsSQL, p.TenantID, p.SessionID, p.RejectCalls, p.RejectCallMessage,
		p.IgnoreGroups, p.IgnoreBroadcasts, p.AlwaysOnline, p.AutoRead); err != nil {
		return fmt.Errorf("store: store session settings: %w", err)
	}
	return nil
}
