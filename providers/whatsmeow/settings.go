package whatsmeow

import (
	"context"
	"sync"
	"time"

	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/zapbase/zapbase/providers"
)

var _ providers.SettingsApplier = (*Provider)(nil)

// settingsCache holds the instance settings of the sessions this replica
// drives. An entry is loaded from wa.session_settings on first use and
// replaced by ApplySettings (here) or dropped by an owner notification (when
// another replica's API changed them).
type settingsCache struct {
	mu sync.Mutex
	m  map[string]providers.SessionSettings
}

func (c *settingsCache) get(id string) (providers.SessionSettings, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	s, ok := c.m[id]
	return s, ok
}

func (c *settingsCache) put(id string, s providers.SessionSettings) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]providers.SessionSettings{}
	}
	c.m[id] = s
}

func (c *settingsCache) forget(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.m, id)
}

// LoadSettings reads a session's settings (defaults when none are stored).
func LoadSettings(ctx context.Context, db interface {
	LoadSettings(ctx context.Context, tenantID, sessionID string) (providers.SessionSettings, error)
}, tenantID, sessionID string) (providers.SessionSettings, error) {
	return db.LoadSettings(ctx, tenantID, sessionID)
}

// settingsOf answers the session's settings, loading them once.
func (s *session) settingsOf(ctx context.Context) providers.SessionSettings {
	if st, ok := s.p.settings.get(s.id); ok {
		return st
	}
	st, err := LoadSettings(ctx, s.p.cfg.DB, s.tenantID, s.id)
	if err != nil {
		s.log.Warn("load session settings", "error", err)
		return st
	}
	s.p.settings.put(s.id, st)
	return st
}

// ApplySettings implements providers.SettingsApplier. The API has already
// stored st; the replica driving the session applies it now (others forward
// it through the owner channel).
func (p *Provider) ApplySettings(ctx context.Context, sessionID string, st providers.SessionSettings) error {
	s := p.session(sessionID)
	if s == nil {
		p.settings.forget(sessionID)
		_, err := notifyOwner(ctx, p.cfg.DB, notification{Op: "settings", Session: sessionID})
		return err
	}
	p.settings.put(sessionID, st)
	s.applyPresence(ctx, st)
	return nil
}

// reloadSettings is the owner's side of a "settings" notification.
func (p *Provider) reloadSettings(sessionID string) {
	p.settings.forget(sessionID)
	s := p.session(sessionID)
	if s == nil {
		return
	}
	ctx, cancel := context.WithTimeout(p.ctx, 30*time.Second)
	defer cancel()
	s.applyPresence(ctx, s.settingsOf(ctx))
}

// applyPresence shows the account online (always online) or lets it go
// offline. Without "always online" the account stays unavailable so the
// phone keeps receiving notifications.
func (s *session) applyPresence(ctx context.Context, st providers.SessionSettings) {
	c, ok := s.currentClient().(FeatureClient)
	if !ok || !s.currentClient().IsLoggedIn() {
		return
	}
	state := types.PresenceUnavailable
	if st.AlwaysOnline {
		state = types.PresenceAvailable
	}
	if err := c.SendPresence(ctx, state); err != nil {
		s.log.Warn("send presence", "state", state, "error", err)
	}
}

// onConnectedFeatures runs after every connection (off the handler
// goroutine): it reloads the settings (another replica may have driven the
// session, and seen changes, since this one cached them) and applies the
// presence setting.
func (s *session) onConnectedFeatures() {
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	s.p.settings.forget(s.id)
	if st := s.settingsOf(ctx); st.AlwaysOnline {
		s.applyPresence(ctx, st)
	}
}

// ignored reports whether the session's settings drop this inbound message
// (groups, status and broadcast lists).
func (s *session) ignored(ctx context.Context, e *events.Message) bool {
	st := s.settingsOf(ctx)
	if st.IgnoreGroups && e.Info.IsGroup {
		return true
	}
	return st.IgnoreBroadcasts && e.Info.Chat.Server == types.BroadcastServer
}

// afterInbound marks a stored message read when auto-read is on.
func (s *session) afterInbound(ctx context.Context, c Client, e *events.Message) {
	if e.Info.IsFromMe || c == nil || !s.settingsOf(ctx).AutoRead {
		return
	}
	sender := types.EmptyJID
	if e.Info.IsGroup {
		sender = e.Info.Sender
	}
	if err := c.MarkRead(ctx, []types.MessageID{e.Info.ID}, time.Now(), e.Info.Chat, sender); err != nil {
		s.log.Warn("auto-read", "message_id", e.Info.ID, "error", err)
		return
	}
	if err := s.p.cfg.Sink.MarkInboundRead(ctx, s.tenantID, e.Info.ID); err != nil {
		s.log.Warn("auto-read row", "message_id", e.Info.ID, "error", err)
	}
}

// handleFeatureEvent handles the events of calls, presence and groups. It runs on
// whatsmeow's handler goroutine: it only writes rows.
func (s *session) handleFeatureEvent(evt any) {
	switch e := evt.(type) {
	case *events.CallOffer:
		s.handleCallOffer(e.BasicCallMeta, isVideoCall(e))
	case *events.CallOfferNotice:
		s.handleCallOffer(e.BasicCallMeta, e.Media == "video")
	case *events.CallAccept:
		s.recordCall(e.BasicCallMeta, "accept", nil)
	case *events.CallTerminate:
		s.recordCall(e.BasicCallMeta, "terminate", map[string]any{"reason": e.Reason})
	case *events.Presence, *events.ChatPresence:
		s.recordPresence(evt)
	case *events.GroupInfo, *events.JoinedGroup:
		s.recordGroupEvent(evt) // groups.go
	}
}

func isVideoCall(e *events.CallOffer) bool {
	if e.Data == nil {
		return false
	}
	_, ok := e.Data.GetOptionalChildByTag("video")
	return ok
}

// caller is the caller's id (phone digits when known) and the JID to
// answer to.
func caller(m types.BasicCallMeta) (string, types.JID) {
	from := m.CallCreator
	if from.IsEmpty() {
		from = m.From
	}
	pn := pnOnly(from)
	if pn.IsEmpty() {
		pn = pnOnly(m.CallCreatorAlt)
	}
	id := contactID(from, pn)
	to := from.ToNonAD()
	if !pn.IsEmpty() {
		to = pn.ToNonAD()
	}
	return id, to
}

// handleCallOffer rejects the call when the session's settings say so (and
// queues the optional pt-BR message as a normal outbound row), and records
// the call in the change feed.
func (s *session) handleCallOffer(m types.BasicCallMeta, video bool) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), 30*time.Second)
	defer cancel()
	st := s.settingsOf(ctx)
	extra := map[string]any{"video": video}
	if st.RejectCalls && m.GroupJID.IsEmpty() {
		rejected := false
		if c, ok := s.currentClient().(FeatureClient); ok {
			if err := c.RejectCall(ctx, m.From, m.CallID); err != nil {
				s.log.Warn("reject call", "call_id", m.CallID, "error", err)
			} else {
				rejected = true
			}
		}
		extra["rejected"] = rejected
		if rejected && st.RejectCallMessage != "" {
			_, to := caller(m)
			if err := s.queueText(ctx, to, st.RejectCallMessage, "call_rejected"); err != nil {
				s.log.Warn("queue call rejection message", "call_id", m.CallID, "error", err)
			}
		}
	}
	s.recordCall(m, "offer", extra)
}

func (s *session) recordCall(m types.BasicCallMeta, event string, extra map[string]any) {
	id, _ := caller(m)
	data := map[string]any{"event": event, "call_id": m.CallID, "from": id}
	if !m.GroupJID.IsEmpty() {
		data["group"] = m.GroupJID.String()
	}
	if !m.Timestamp.IsZero() {
		data["timestamp"] = m.Timestamp.UTC().Format(time.RFC3339)
	}
	for k, v := range extra {
		data[k] = v
	}
	s.recordFeed(providers.FeedEvent{Topic: providers.FeedTopicCall, Chat: id, Data: data})
}

// queueText queues an outbound text row for this session: it is sent by
// the normal pipeline (durable, retried, visible in the frontend).
func (s *session) queueText(ctx context.Context, to types.JID, text, trigger string) error {
	recipient := to.String()
	if to.Server == types.DefaultUserServer {
		recipient = to.User
	}
	if s.p.cfg.Outbox == nil {
		return nil
	}
	return s.p.cfg.Outbox.QueueText(ctx, providers.QueuedText{TenantID: s.tenantID, SessionID: s.id,
		Provider: "baileys", To: recipient, Text: text, Trigger: trigger})
}

// recordFeed writes a change-feed event of this session.
func (s *session) recordFeed(e providers.FeedEvent) {
	if s.p.cfg.Feed == nil {
		return
	}
	e.TenantID, e.SessionID = s.tenantID, s.id
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), 10*time.Second)
	defer cancel()
	if err := s.p.cfg.Feed.RecordEvent(ctx, e); err != nil {
		s.log.Warn("record change feed event", "topic", e.Topic, "error", err)
	}
}
