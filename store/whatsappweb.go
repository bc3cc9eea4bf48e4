package store

import "context"

// WhatsAppWeb is every query of the WhatsApp Web channel behind one value,
// the implementation of the narrow whatsmeow.Store interface: its own
// tables (wa.session_leases, wa.lease_holders, wa.contact_identities,
// wa.recipient_resolutions, wa.session_settings) and the reads it needs of
// sessions and messages. Writes to public.* go through the event sink.
// whatsmeow's own device store (whatsmeow_* tables) is not here: it is
// whatsmeow's schema, run by its sqlstore container.
type WhatsAppWeb struct {
	s *Store
	LeaseQuery
	ContactIdentityQuery
	RecipientResolutionQuery
	SessionSettingsQuery
}

// WhatsAppWeb returns the WhatsApp Web channel's queries.
func (s *Store) WhatsAppWeb() WhatsAppWeb {
	return WhatsAppWeb{s: s, LeaseQuery: s.Leases(), ContactIdentityQuery: s.ContactIdentities(),
		RecipientResolutionQuery: s.RecipientResolutions(), SessionSettingsQuery: s.SessionSettings()}
}

// Session is SessionQuery.BaileysSession.
func (c WhatsAppWeb) Session(ctx context.Context, sessionID string) (BaileysSession, bool, error) {
	return c.s.Sessions().BaileysSession(ctx, sessionID)
}

// LookupMessage is MessageQuery.LookupBaileysMessage.
func (c WhatsAppWeb) LookupMessage(ctx context.Context, tenantID, providerMessageID string) (BaileysMessageRef, bool, error) {
	return c.s.Messages().LookupBaileysMessage(ctx, tenantID, providerMessageID)
}

// LookupPoll is MessageQuery.LookupBaileysPoll.
func (c WhatsAppWeb) LookupPoll(ctx context.Context, tenantID, pollMessageID string) (BaileysPoll, bool, error) {
	return c.s.Messages().LookupBaileysPoll(ctx, tenantID, pollMessageID)
}
