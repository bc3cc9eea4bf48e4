package store

import (
	"context"

	"github.com/zapbase/zapbase/providers"
)

// MetaChannel is every query of the Meta channel behind one value, the
// implementation of the narrow meta.Store interface: its own tables
// (wa.meta_*, wa.session_secrets, wa.webhook_inbox) and the reads it needs
// of sessions and messages. Writes to public.messages go through the event
// sink instead.
type MetaChannel struct {
	s *Store
	MetaNumberQuery
	MetaContactQuery
	MetaTemplateQuery
	MetaOptOutQuery
	MetaUnroutedWebhookQuery
	WebhookInboxQuery
}

// MetaChannel returns the Meta channel's queries.
func (s *Store) MetaChannel() MetaChannel {
	return MetaChannel{s: s, MetaNumberQuery: s.MetaNumbers(), MetaContactQuery: s.MetaContacts(),
		MetaTemplateQuery: s.MetaTemplates(), MetaOptOutQuery: s.MetaOptOuts(),
		MetaUnroutedWebhookQuery: s.MetaUnroutedWebhooks(), WebhookInboxQuery: s.WebhookInbox()}
}

// SaveSession is Store.SaveMetaSession.
func (c MetaChannel) SaveSession(ctx context.Context, p SaveMetaSessionParams) error {
	return c.s.SaveMetaSession(ctx, p)
}

// ForgetSession is Store.ForgetMetaSession.
func (c MetaChannel) ForgetSession(ctx context.Context, sessionID string) error {
	return c.s.ForgetMetaSession(ctx, sessionID)
}

// Session is SessionQuery.MetaSession.
func (c MetaChannel) Session(ctx context.Context, sessionID string) (MetaSession, bool, error) {
	return c.s.Sessions().MetaSession(ctx, sessionID)
}

// SessionStatus is SessionQuery.MetaStatus.
func (c MetaChannel) SessionStatus(ctx context.Context, sessionID string) (providers.SessionState, error) {
	return c.s.Sessions().MetaStatus(ctx, sessionID)
}

// PendingVerifications is SessionQuery.PendingMetaVerifications.
func (c MetaChannel) PendingVerifications(ctx context.Context) ([]string, error) {
	return c.s.Sessions().PendingMetaVerifications(ctx)
}

// InboundMedia is MessageQuery.MetaInboundMedia.
func (c MetaChannel) InboundMedia(ctx context.Context, tenantID, wamid string) (MetaInboundMedia, bool, error) {
	return c.s.Messages().MetaInboundMedia(ctx, tenantID, wamid)
}

// InboundMediaStored is MessageQuery.MetaInboundMediaStored.
func (c MetaChannel) InboundMediaStored(ctx context.Context, tenantID, wamid string) (bool, error) {
	return c.s.Messages().MetaInboundMediaStored(ctx, tenantID, wamid)
}

// LastInboundMessageID is MessageQuery.MetaLastInboundMessageID.
func (c MetaChannel) LastInboundMessageID(ctx context.Context, p MetaLastInboundParams) (string, error) {
	return c.s.Messages().MetaLastInboundMessageID(ctx, p)
}
