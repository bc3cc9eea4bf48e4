package store

import (
	"context"
	"errors"

	"github.com/zapbase/zapbase/pgerr"
)

// Errors of SaveMetaSession.
var (
	// ErrSessionNumberTaken: the tenant already has a session for the number.
	ErrSessionNumberTaken = errors.New("store: a session exists for this number")
	// ErrMetaNumberTaken: the phone number id routes to another session.
	ErrMetaNumberTaken = errors.New("store: phone number id configured on another session")
)

// SaveMetaSessionParams are a Meta session's sealed credentials and route.
type SaveMetaSessionParams struct {
	TenantID, SessionID string
	PhoneNumber         string
	// SessionData is merged into session_data (non-secret ids).
	SessionData     []byte
	KeyID           string
	Sealed          []byte
	PhoneNumberID   string
	WABAID          string
	VerifyTokenHash []byte
}

// SaveMetaSession stores a Meta session in one transaction: the session row
// (updated, or inserted in state connecting), its sealed credentials, and
// its number's route (a number belongs to one session: this session's old
// number is dropped, a number another session owns is refused with
// ErrMetaNumberTaken).
func (s *Store) SaveMetaSession(ctx context.Context, p SaveMetaSessionParams) error {
	return s.InTx(ctx, func(tx *Store) error {
		ok, err := tx.Sessions().updateMetaSession(ctx, p.SessionID, p.TenantID, p.SessionData)
		if err != nil {
			return err
		}
		if !ok {
			if err := tx.Sessions().insertMetaSession(ctx, p.SessionID, p.TenantID, p.PhoneNumber, p.SessionData); err != nil {
				if pgerr.IsUniqueViolation(err) {
					return ErrSessionNumberTaken
				}
				return err
			}
		}
		if err := tx.SessionSecrets().put(ctx, p.SessionID, p.TenantID, p.KeyID, p.Sealed); err != nil {
			return err
		}
		if err := tx.MetaNumbers().replaceOthers(ctx, p.SessionID, p.PhoneNumberID); err != nil {
			return err
		}
		routed, err := tx.MetaNumbers().route(ctx, p)
		if err != nil {
			return err
		}
		if !routed {
			return ErrMetaNumberTaken
		}
		return nil
	})
}

// ForgetMetaSession drops a Meta session's credentials and route in one
// transaction.
func (s *Store) ForgetMetaSession(ctx context.Context, sessionID string) error {
	return s.InTx(ctx, func(tx *Store) error {
		if err := tx.SessionSecrets().delete(ctx, sessionID); err != nil {
			return err
		}
		return tx.MetaNumbers().forgetSession(ctx, sessionID)
	})
}
