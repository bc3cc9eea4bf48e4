package whatsmeow

import (
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"strings"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
)

// inboundWorker persists queued messages in order (media downloads happen
// here, off whatsmeow's handler goroutine). On stop it drains the queue.
func (s *session) inboundWorker() {
	for {
		select {
		case e := <-s.inbox:
			s.persistInbound(context.WithoutCancel(s.ctx), e)
		case <-s.ctx.Done():
			for {
				select {
				case e := <-s.inbox:
					s.persistInbound(context.WithoutCancel(s.ctx), e)
				default:
					return
				}
			}
		}
	}
}

func (s *session) persistInbound(parent context.Context, e *events.Message) {
	ctx, cancel := context.WithTimeout(parent, 2*time.Minute)
	defer cancel()
	// Edits and deletions change the target row instead of adding one
	// (a target this session never stored falls back to a system row).
	if e.Message != nil && s.applyChange(ctx, s.currentClient(), e) {
		return
	}
	m, media, ok := mapMessage(e)
	if !ok || s.ignored(ctx, e) {
		return
	}
	m.TenantID, m.SessionID, m.To = s.tenantID, s.id, s.phone
	// The inbound message starts a trace that the agent's turn and its
	// reply's send continue (the row carries it).
	ctx, span := tracer.Start(ctx, "zapbase.whatsmeow.inbound", trace.WithSpanKind(trace.SpanKindConsumer),
		trace.WithAttributes(attribute.String("zapbase.tenant_id", s.tenantID), attribute.String("zapbase.session_id", s.id),
			attribute.String("zapbase.message.type", string(m.Type))))
	defer span.End()
	c := s.currentClient()
	s.resolveIdentity(ctx, c, e, &m)
	if e.Message.GetPollUpdateMessage() != nil {
		s.decryptPollVote(ctx, c, e, &m) // polls.go
	}
	if media != nil {
		s.storeMedia(ctx, c, &m, media)
	}
	// The real content of a message that arrived undecryptable.
	if filled, err := s.fillUndecryptable(ctx, m); err != nil {
		s.log.Warn("fill undecryptable message", "error", err)
	} else if filled {
		return
	}
	if err := s.p.cfg.Sink.Inbound(ctx, m); err != nil {
		span.RecordError(err)
		span.SetStatus(codes.Error, "persist failed")
		s.log.Error("persist inbound message", "message_id", m.ProviderMessageID, "error", err)
		return
	}
	s.afterInbound(ctx, c, e) // auto-read (settings.go)
}

// resolveIdentity fills From (phone digits when known) and FromAlt (LID) and
// records the link between them.
func (s *session) resolveIdentity(ctx context.Context, c Client, e *events.Message, m *providers.InboundMessage) {
	var pn, lid types.JID
	for _, j := range []types.JID{e.Info.Sender.ToNonAD(), e.Info.SenderAlt.ToNonAD()} {
		switch j.Server {
		case types.DefaultUserServer:
			pn = j
		case types.HiddenUserServer:
			lid = j
		}
	}
	if pn.IsEmpty() && !lid.IsEmpty() && c != nil {
		if got, err := c.GetPNForLID(ctx, lid); err == nil && !got.IsEmpty() {
			pn = got.ToNonAD()
		}
	}
	switch {
	case !pn.IsEmpty():
		m.From = pn.User
		if !lid.IsEmpty() {
			m.FromAlt = lid.String()
		}
	case !lid.IsEmpty():
		// Never take a LID's digits for a phone number.
		m.From = lid.String()
	default:
		m.From = e.Info.Sender.ToNonAD().String()
	}
	if !pn.IsEmpty() && !lid.IsEmpty() {
		if err := s.p.linkContact(ctx, s.tenantID, s.id, lid.String(), pn.User, e.Info.PushName); err != nil {
			s.log.Warn("link contact identities", "error", err)
		}
	}
}

func (s *session) storeMedia(ctx context.Context, c Client, m *providers.InboundMessage, media *inboundMedia) {
	if s.p.cfg.Media == nil || c == nil {
		return
	}
	data, err := c.Download(ctx, media.msg)
	if err != nil {
		s.log.Warn("download inbound media", "message_id", m.ProviderMessageID, "error", err)
		m.Content.Raw = mustJSON(map[string]any{"mediaError": "download_failed"})
		return
	}
	name := m.ProviderMessageID + extensionFor(m.Content.MimeType, m.Content.Filename)
	url, err := s.p.cfg.Media.Put(ctx, s.tenantID, name, m.Content.MimeType, data)
	if err != nil {
		s.log.Warn("store inbound media", "message_id", m.ProviderMessageID, "error", err)
		m.Content.Raw = mustJSON(map[string]any{"mediaError": "store_failed"})
		return
	}
	m.Content.MediaURL = url
	m.Content.SizeBytes = int64(len(data))
}

func extensionFor(mimeType, filename string) string {
	if i := strings.LastIndexByte(filename, '.'); i >= 0 && len(filename)-i <= 8 {
		return filename[i:]
	}
	base := strings.TrimSpace(strings.SplitN(mimeType, ";", 2)[0])
	switch base {
	case "audio/ogg":
		return ".ogg"
	case "image/jpeg":
		return ".jpg"
	case "image/webp":
		return ".webp"
	case "video/mp4":
		return ".mp4"
	}
	if exts, _ := mime.ExtensionsByType(base); len(exts) > 0 {
		return exts[0]
	}
	return ".bin"
}

type inboundMedia struct {
	msg whatsmeow.DownloadableMessage
}

// mapMessage turns a whatsmeow message event into the canonical inbound
// message. ok is false for events that are not user messages (protocol
// noise, key distribution).
func mapMessage(e *events.Message) (m providers.InboundMessage, media *inboundMedia, ok bool) {
	msg := e.Message
	if msg == nil {
		return m, nil, false
	}
	m = providers.InboundMessage{
		Provider:          zapbase.ProviderBaileys,
		ProviderMessageID: e.Info.ID,
		PushName:          e.Info.PushName,
		Timestamp:         e.Info.Timestamp,
		IsGroup:           e.Info.IsGroup,
		Chat:              e.Info.Chat.ToNonAD().String(),
		FromMe:            e.Info.IsFromMe,
	}
	c := &m.Content
	switch {
	case msg.GetProtocolMessage() != nil:
		pm := msg.GetProtocolMessage()
		switch pm.GetType() {
		case waE2E.ProtocolMessage_REVOKE:
			m.Type = zapbase.MessageSystem
			c.TargetMessageID = pm.GetKey().GetID()
			c.Raw = mustJSON(map[string]any{"event": "revoke"})
		case waE2E.ProtocolMessage_MESSAGE_EDIT:
			m.Type = zapbase.MessageSystem
			c.TargetMessageID = pm.GetKey().GetID()
			c.Text = textOf(pm.GetEditedMessage())
			c.Raw = mustJSON(map[string]any{"event": "edit"})
		default:
			return m, nil, false
		}
	case msg.GetReactionMessage() != nil:
		r := msg.GetReactionMessage()
		m.Type = zapbase.MessageReaction
		c.Emoji = r.GetText()
		c.TargetMessageID = r.GetKey().GetID()
	case msg.Conversation != nil || msg.GetExtendedTextMessage() != nil:
		m.Type = zapbase.MessageText
		c.Text = textOf(msg)
		c.ReplyTo = msg.GetExtendedTextMessage().GetContextInfo().GetStanzaID()
	case msg.GetImageMessage() != nil:
		im := msg.GetImageMessage()
		m.Type = zapbase.MessageImage
		c.MimeType, c.Caption, c.SizeBytes = im.GetMimetype(), im.GetCaption(), int64(im.GetFileLength())
		c.ReplyTo = im.GetContextInfo().GetStanzaID()
		media = &inboundMedia{msg: im}
	case msg.GetVideoMessage() != nil:
		vm := msg.GetVideoMessage()
		m.Type = zapbase.MessageVideo
		c.MimeType, c.Caption, c.SizeBytes, c.Seconds = vm.GetMimetype(), vm.GetCaption(), int64(vm.GetFileLength()), int(vm.GetSeconds())
		c.ReplyTo = vm.GetContextInfo().GetStanzaID()
		media = &inboundMedia{msg: vm}
	case msg.GetAudioMessage() != nil:
		am := msg.GetAudioMessage()
		m.Type = zapbase.MessageAudio
		if am.GetPTT() {
			m.Type = zapbase.MessageVoice
		}
		c.MimeType, c.SizeBytes, c.Seconds = am.GetMimetype(), int64(am.GetFileLength()), int(am.GetSeconds())
		media = &inboundMedia{msg: am}
	case msg.GetDocumentMessage() != nil:
		dm := msg.GetDocumentMessage()
		m.Type = zapbase.MessageDocument
		c.MimeType, c.Caption, c.Filename, c.SizeBytes = dm.GetMimetype(), dm.GetCaption(), dm.GetFileName(), int64(dm.GetFileLength())
		media = &inboundMedia{msg: dm}
	case msg.GetStickerMessage() != nil:
		sm := msg.GetStickerMessage()
		m.Type = zapbase.MessageSticker
		c.MimeType, c.SizeBytes = sm.GetMimetype(), int64(sm.GetFileLength())
		media = &inboundMedia{msg: sm}
	case msg.GetLocationMessage() != nil:
		lm := msg.GetLocationMessage()
		m.Type = zapbase.MessageLocation
		lat, lng := lm.GetDegreesLatitude(), lm.GetDegreesLongitude()
		c.Latitude, c.Longitude, c.Name, c.Address = &lat, &lng, lm.GetName(), lm.GetAddress()
	case msg.GetLiveLocationMessage() != nil:
		lm := msg.GetLiveLocationMessage()
		m.Type = zapbase.MessageLocation
		lat, lng := lm.GetDegreesLatitude(), lm.GetDegreesLongitude()
		c.Latitude, c.Longitude, c.Caption = &lat, &lng, lm.GetCaption()
		c.Raw = mustJSON(map[string]any{"live": true})
	case msg.GetContactMessage() != nil:
		m.Type = zapbase.MessageContacts
		c.Contacts = []providers.ContactCard{contactCard(msg.GetContactMessage())}
	case msg.GetContactsArrayMessage() != nil:
		m.Type = zapbase.MessageContacts
		for _, cm := range msg.GetContactsArrayMessage().GetContacts() {
			c.Contacts = append(c.Contacts, contactCard(cm))
		}
	case pollOf(msg) != nil:
		m.Type = zapbase.MessagePoll
		c.Poll = pollContent(pollOf(msg)) // polls.go
	case msg.GetPollUpdateMessage() != nil:
		// Votes are encrypted with the poll's secret: persistInbound
		// decrypts them into a poll_vote; this placeholder stays when it
		// cannot.
		m.Type = zapbase.MessageUnsupported
		c.TargetMessageID = msg.GetPollUpdateMessage().GetPollCreationMessageKey().GetID()
		c.Raw = mustJSON(map[string]any{"event": "poll_vote"})
	case msg.GetSenderKeyDistributionMessage() != nil:
		return m, nil, false // key distribution without content
	default:
		m.Type = zapbase.MessageUnsupported
		c.Raw = mustJSON(map[string]any{"event": "unknown"})
	}
	return m, media, true
}

func pollOf(msg *waE2E.Message) *waE2E.PollCreationMessage {
	for _, p := range []*waE2E.PollCreationMessage{msg.GetPollCreationMessage(), msg.GetPollCreationMessageV2(),
		msg.GetPollCreationMessageV3(), msg.GetPollCreationMessageV5(), msg.GetPollCreationMessageV6()} {
		if p != nil {
			return p
		}
	}
	return nil
}

func textOf(msg *waE2E.Message) string {
	if msg == nil {
		return ""
	}
	if t := msg.GetConversation(); t != "" {
		return t
	}
	return msg.GetExtendedTextMessage().GetText()
}

func contactCard(cm *waE2E.ContactMessage) providers.ContactCard {
	card := providers.ContactCard{Name: cm.GetDisplayName(), VCard: cm.GetVcard()}
	for _, line := range strings.Split(cm.GetVcard(), "\n") {
		line = strings.TrimSpace(line)
		upper := strings.ToUpper(line)
		if strings.HasPrefix(upper, "TEL") || strings.HasPrefix(upper, "ITEM1.TEL") {
			if i := strings.LastIndexByte(line, ':'); i >= 0 {
				card.Phones = append(card.Phones, strings.TrimSpace(line[i+1:]))
			}
		}
	}
	return card
}

func mustJSON(v any) json.RawMessage {
	b, err := json.Marshal(v)
	if err != nil {
		panic(fmt.Sprintf("marshal %T: %v", v, err))
	}
	return b
}

var tracer = otel.Tracer("github.com/zapbase/zapbase/providers/whatsmeow")
