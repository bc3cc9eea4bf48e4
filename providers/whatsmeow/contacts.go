package whatsmeow

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"go.mau.fi/whatsmeow/types"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/store"
)

// linkContact records that lid and phone are the same contact of a session.
// A phone number that moved to another LID (number recycled) replaces the
// old link.
func (p *Provider) linkContact(ctx context.Context, tenantID, sessionID, lid, phone, pushName string) error {
	return p.cfg.DB.LinkContact(ctx, store.LinkContactParams{TenantID: tenantID, SessionID: sessionID, LID: lid, Phone: phone, PushName: pushName})
}

// ContactIdentity is a contact known by both identifiers.
type ContactIdentity = store.ContactIdentity

// LookupContact finds a contact of a session by phone digits or LID JID.
func (p *Provider) LookupContact(ctx context.Context, tenantID, sessionID, idOrPhone string) (ContactIdentity, bool, error) {
	return p.cfg.DB.LookupContact(ctx, tenantID, sessionID, idOrPhone)
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
	r, ok, err := p.cfg.DB.LookupMessage(ctx, tenantID, providerID)
	if err != nil || !ok {
		return messageRef{}, ok, err
	}
	return messageRef{fromMe: r.Direction == zapbase.DirectionOutbound, sender: r.From}, true, nil
}
