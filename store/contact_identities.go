package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
)

// ContactIdentityQuery runs the statements of wa.contact_identities (a
// WhatsApp Web contact known by LID and phone number).
type ContactIdentityQuery struct{ db DB }

// ContactIdentities returns the contact identity queries.
func (s *Store) ContactIdentities() ContactIdentityQuery { return ContactIdentityQuery{s.db} }

// ContactIdentity is a contact known by both identifiers.
type ContactIdentity struct {
	LID         string
	PhoneNumber string
	PushName    string
}

// LinkContactParams name a session's contact by LID and phone.
type LinkContactParams struct {
	TenantID, SessionID string
	LID, Phone          string
	PushName            string
}

const linkContactSQL = `
WITH gone AS (
  DELETE FROM wa.contact_identities
   WHERE tenant_id = $1 AND session_id = $2 AND phone_number = $4 AND lid <> $3
)
INSERT INTO wa.contact_identities (tenant_id, session_id, lid, phone_number, push_name)
VALUES ($1, $2, $3, $4, nullif($5, ''))
ON CONFLICT (tenant_id, session_id, lid) DO UPDATE
   SET phone_number = excluded.phone_number,
       push_name = coalesce(excluded.push_name, wa.contact_identities.push_name),
       updated_at = now()`

// LinkContact records that LID and phone are the same contact of a session; a
// phone number that moved to another LID (number recycled) replaces the old
// link.
func (q ContactIdentityQuery) LinkContact(ctx context.Context, p LinkContactParams) error {
	if _, err := q.db.Exec(ctx, linkContactSQL, p.TenantID, p.SessionID, p.LID, p.Phone, p.PushName); err != nil {
		return fmt.Errorf("store: link contact %s: %w", p.LID, err)
	}
	return nil
}

// LookupContact finds a contact of a session by phone digits or LID JID.
func (q ContactIdentityQuery) LookupContact(ctx context.Context, tenantID, sessionID, idOrPhone string) (ContactIdentity, bool, error) {
	var c ContactIdentity
	var push *string
	err := q.db.QueryRow(ctx, `
SELECT lid, phone_number, push_name FROM wa.contact_identities
 WHERE tenant_id = $1 AND session_id = $2 AND (lid = $3 OR phone_number = $3)`, tenantID, sessionID, idOrPhone).
		Scan(&c.LID, &c.PhoneNumber, &push)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, false, nil
	}
	if err != nil {
		return c, false, fmt.Errorf("store: lookup contact: %w", err)
	}
	c.PushName = orEmpty(push)
	return c, true, nil
}

func orEmpty(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
