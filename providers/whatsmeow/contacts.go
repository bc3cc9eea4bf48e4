package whatsmeow

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"go.mau.fi/whatsmeow/types"
)

// linkContact records that lid and phone are the same contact of a session.
// A phone number that moved to another LID (number recycled) replaces the
// old link.
func (p *Provider) linkContact(ctx context.Context, tenantID, sessionID, lid, phone, pushName string) error {
	_, err := p.cfg.Pool.Exec(ctx, `
WITH gone AS (
  DELETE FROM wa.contact_identities
   WHERE tenant_id = $1 AND session_id = $2 AND phone_number = $4 AND lid <> $3
)
INSERT INTO wa.contact_identities (tenant_id, session_id, lid, phone_number, push_name)
VALUES ($1, $2, $3, $4, nullif($5, ''))
ON CONFLICT (tenant_id, session_id, lid) DO UPDATE
   SET phone_number = excluded.phone_number,
       push_name = coalesce(excluded.push_name, wa.contact_identities.push_name),
       updated_at = now()`, tenantID, sessionID, lid, phone, pushName)
	if err != nil {
		return fmt.Errorf("link contact %s: %w", lid, err)
	}
	return nil
}

// ContactIdentity is a contact known by both identifiers.
type ContactIdentity struct {
	LID         string
	PhoneNumber string
	PushName    string
}

// LookupContact finds a contact of a session by phone digits or LID JID.
func (p *Provider) LookupContact(ctx context.Context, tenantID, sessionID, idOrPhone string) (ContactIdentity, bool, error) {
	var c ContactIdentity
	var push *string
	err := p.cfg.Pool.QueryRow(ctx, `
SELECT lid, phone_number, push_name FROM wa.contact_identities
 WHERE tenant_id = $1 AND session_id = $2 AND (lid = $3 OR phone_number = $3)`, tenantID, sessionID, idOrPhone).
		Scan(&c.LID, &c.PhoneNumber, &push)
	if errors.Is(err, pgx.ErrNoRows) {
		return c, false, nil
	}
	if err != nil {
		return c, false, fmt.Errorf("lookup contact: %w", err)
	}
	c.PushName = deref(push)
	return c, true, nil
}

// parseRecipient accepts international phone digits (optionally with +,
// spaces, dashes, parentheses), or a WhatsApp JID (user, LID or group).
func parseRecipient(to string) (types.JID, error) {
	to = strings.TrimSpace(to)
	if to == "" {
		return types.EmptyJID, errors.New("empty recipient")
	}
	if strings.Contains(to, "@") {
		j, err := types.ParseJID(to)
		if err != nil {
			return types.EmptyJID, err
		}
		switch j.Server {
		case types.DefaultUserServer, types.HiddenUserServer, types.GroupServer:
		default:
			return types.EmptyJID, fmt.Errorf("unsupported server %q", j.Server)
		}
		if j.User == "" {
			return types.EmptyJID, errors.New("jid without user")
		}
		return j.ToNonAD(), nil
	}
	digits := strings.Map(func(r rune) rune {
		switch {
		case r >= '0' && r <= '9':
			return r
		case r == '+' || r == ' ' || r == '-' || r == '(' || r == ')' || r == '.':
			return -1
		}
		return 'x'
	}, to)
	if strings.ContainsRune(digits, 'x') || len(digits) < 8 || len(digits) > 15 || digits[0] == '0' {
		return types.EmptyJID, fmt.Errorf("not an international phone number: %q", to)
	}
	return types.NewJID(digits, types.DefaultUserServer), nil
}

// messageRef is what a reply or reaction needs to know of the target.
type messageRef struct {
	fromMe bool
	sender string
}

// lookupMessage finds the row of a provider message id in the tenant
// (outbound = sent by us).
func (p *Provider) lookupMessage(ctx context.Context, tenantID, providerID string) (messageRef, bool, error) {
	var dir string
	var from *string
	err := p.cfg.Pool.QueryRow(ctx, `
SELECT direction, from_number FROM public.messages
 WHERE tenant_id = $1 AND provider = 'baileys' AND message_id = $2
 ORDER BY created_at DESC LIMIT 1`, tenantID, providerID).Scan(&dir, &from)
	if errors.Is(err, pgx.ErrNoRows) {
		return messageRef{}, false, nil
	}
	if err != nil {
		return messageRef{}, false, fmt.Errorf("lookup message %s: %w", providerID, err)
	}
	return messageRef{fromMe: dir == "outbound", sender: deref(from)}, true, nil
}
