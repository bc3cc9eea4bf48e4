package store

import (
	"context"
	"fmt"
)

// SessionSecretQuery runs the statements of wa.session_secrets (a
// session's sealed credentials).
type SessionSecretQuery struct{ db DB }

// SessionSecrets returns the session secret queries.
func (s *Store) SessionSecrets() SessionSecretQuery { return SessionSecretQuery{s.db} }

// put stores a session's sealed credentials.
func (q SessionSecretQuery) put(ctx context.Context, sessionID, tenantID, keyID string, sealed []byte) error {
	_, err := q.db.Exec(ctx, `
INSERT INTO wa.session_secrets (session_id, tenant_id, key_id, ciphertext)
VALUES ($1, $2, $3, $4)
ON CONFLICT (session_id) DO UPDATE SET key_id = EXCLUDED.key_id, ciphertext = EXCLUDED.ciphertext, updated_at = now()`,
		sessionID, tenantID, keyID, sealed)
	if err != nil {
		return fmt.Errorf("store credentials: %w", err)
	}
	return nil
}

// delete forgets a session's credentials.
func (q SessionSecretQuery) delete(ctx context.Context, sessionID string) error {
	if _, err := q.db.Exec(ctx, `DELETE FROM wa.session_secrets WHERE session_id = $1`, sessionID); err != nil {
		return fmt.Errorf("forget credentials: %w", err)
	}
	return nil
}
