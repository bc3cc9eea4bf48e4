package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

	"github.com/zapbase/zapbase/providers"
)

// SessionSettingsQuery runs the statements of wa.session_settings (the
// instance settings of a WhatsApp Web session).
type SessionSettingsQuery struct{ db DB }

// SessionSettings returns the session settings queries.
func (s *Store) SessionSettings() SessionSettingsQuery { return SessionSettingsQuery{s.db} }

// LoadSettings reads a session's settings (the zero value when none are stored).
func (q SessionSettingsQuery) LoadSettings(ctx context.Context, tenantID, sessionID string) (providers.SessionSettings, error) {
	var s providers.SessionSettings
	var msg *string
	err := q.db.QueryRow(ctx, `
SELECT reject_calls, reject_call_message, ignore_groups, ignore_broadcasts, always_online, auto_read
  FROM wa.session_settings WHERE tenant_id = $1 AND session_id = $2`, tenantID, sessionID).
		Scan(&s.RejectCalls, &msg, &s.IgnoreGroups, &s.IgnoreBroadcasts, &s.AlwaysOnline, &s.AutoRead)
	if errors.Is(err, pgx.ErrNoRows) {
		return providers.SessionSettings{}, nil
	}
	if err != nil {
		return s, fmt.Errorf("store: load session settings %s: %w", sessionID, err)
	}
	s.RejectCallMessage = orEmpty(msg)
	return s, nil
}
