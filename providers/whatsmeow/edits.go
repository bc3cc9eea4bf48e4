package whatsmeow

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
)

// Messages that change after they arrive: undecryptable placeholders that
// the retry fills in, edits and deletions for everyone. Each is an UPDATE of
// the message's row (migration 000101), so it reaches the frontend through
// Realtime like a status change.

var (
	_ providers.MessageEditor  = (*Provider)(nil)
	_ providers.MessageRevoker = (*Provider)(nil)
)

// UndecryptableText is the placeholder shown for a message the device could
// not decrypt yet, as WhatsApp's own apps show it.
const UndecryptableText = "Aguardando mensagem. Essa ação pode levar alguns instantes."

// persistUndecryptable writes the placeholder row of a message that arrived
// undecryptable; whatsmeow asks the sender's phone to resend it, and the
// message that arrives then updates the row in place (fillUndecryptable).
func (s *session) persistUndecryptable(e *events.UndecryptableMessage) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(s.ctx), 10*time.Second)
	defer cancel()
	if s.p.cfg.OnUndecryptableFunc != nil {
		s.p.cfg.OnUndecryptableFunc()
	}
	m := providers.InboundMessage{
		TenantID: s.tenantID, SessionID: s.id, To: s.phone, Provider: zapbase.ProviderBaileys,
		ProviderMessageID: e.Info.ID, PushName: e.Info.PushName, Timestamp: e.Info.Timestamp,
		IsGroup: e.Info.IsGroup, Chat: e.Info.Chat.ToNonAD().String(), FromMe: e.Info.IsFromMe,
		Type: zapbase.MessageUndecryptable,
		Content: providers.Content{Raw: mustJSON(map[string]any{
			"event": "undecryptable", "state": "aguardando_mensagem", "label": UndecryptableText,
			"unavailable": e.IsUnavailable, "unavailableType": string(e.UnavailableType),
		})},
	}
	s.resolveIdentity(ctx, s.currentClient(), &events.Message{Info: e.Info}, &m)
	if err := s.p.cfg.Sink.Inbound(ctx, m); err != nil {
		s.log.Error("persist undecryptable message", "message_id", e.Info.ID, "error", err)
	}
}

// fillUndecryptable replaces the placeholder row of m (if any) with the real
// content and hands it to the agents again. It reports whether a row was
// updated.
func (s *session) fillUndecryptable(ctx context.Context, m providers.InboundMessage) (bool, error) {
	ok, err := s.p.cfg.Sink.FillUndecryptable(ctx, m)
	if err != nil {
		return false, fmt.Errorf("fill undecryptable message %s: %w", m.ProviderMessageID, err)
	}
	return ok, nil
}

// editOf returns the target id and new content of an edit: the plain
// ProtocolMessage(MESSAGE_EDIT) form, or the SecretEncryptedMessage
// (MESSAGE_EDIT) form, decrypted with the original message's secret.
func (s *session) editOf(ctx context.Context, c Client, e *events.Message) (target string, content *waE2E.Message, ok bool) {
	if pm := e.Message.GetProtocolMessage(); pm != nil && pm.GetType() == waE2E.ProtocolMessage_MESSAGE_EDIT {
		return pm.GetKey().GetID(), pm.GetEditedMessage(), true
	}
	enc := e.Message.GetSecretEncryptedMessage()
	if enc == nil || enc.GetSecretEncType() != waE2E.SecretEncryptedMessage_MESSAGE_EDIT || c == nil {
		return "", nil, false
	}
	dec, err := c.DecryptSecretEncryptedMessage(ctx, e)
	if err != nil {
		s.log.Warn("decrypt edited message", "message_id", e.Info.ID, "target", enc.GetTargetMessageKey().GetID(), "error", err)
		return "", nil, false
	}
	if pm := dec.GetProtocolMessage(); pm != nil && pm.GetType() == waE2E.ProtocolMessage_MESSAGE_EDIT {
		dec = pm.GetEditedMessage()
	}
	return enc.GetTargetMessageKey().GetID(), dec, true
}

func (s *session) applyRevoke(ctx context.Context, target string, fromMe bool, at time.Time) (bool, error) {
	dir := zapbase.DirectionInbound
	if fromMe {
		dir = zapbase.DirectionOutbound
	}
	ok, err := s.p.cfg.Sink.ApplyRevoke(ctx, providers.ApplyRevokeParams{TenantID: s.tenantID, ProviderMessageID: target,
		Direction: dir, At: at})
	if err != nil {
		return false, fmt.Errorf("apply revoke to %s: %w", target, err)
	}
	return ok, nil
}

// applyChange applies an edit or a revoke carried by e to the target row.
// handled is true when the event is fully applied (no row of its own).
func (s *session) applyChange(ctx context.Context, c Client, e *events.Message) (handled bool) {
	at := e.Info.Timestamp
	if at.IsZero() {
		at = time.Now()
	}
	dir := zapbase.DirectionInbound
	if e.Info.IsFromMe {
		dir = zapbase.DirectionOutbound
	}
	// REVOKE is the enum's zero value: a nil ProtocolMessage reports it too.
	if pm := e.Message.GetProtocolMessage(); pm != nil && pm.GetType() == waE2E.ProtocolMessage_REVOKE {
		ok, err := s.applyRevoke(ctx, pm.GetKey().GetID(), e.Info.IsFromMe || pm.GetKey().GetFromMe(), at)
		if err != nil {
			s.log.Warn("apply revoke", "error", err)
		}
		return ok
	}
	target, content, ok := s.editOf(ctx, c, e)
	if !ok || target == "" {
		return false
	}
	text := textOf(content)
	if text == "" {
		text = content.GetImageMessage().GetCaption() + content.GetVideoMessage().GetCaption() + content.GetDocumentMessage().GetCaption()
	}
	done, err := s.p.cfg.Sink.ApplyEdit(ctx, providers.ApplyEditParams{TenantID: s.tenantID, Provider: zapbase.ProviderBaileys,
		ProviderMessageID: target, Direction: dir, Text: text, At: at})
	if err != nil {
		s.log.Warn("apply edit", "error", err)
		return false
	}
	return done
}

// EditMessage implements providers.MessageEditor: it sends the new text of
// one of the session's sent messages (text or caption) to the chat.
func (p *Provider) EditMessage(ctx context.Context, ep providers.EditParams) (providers.SendResult, error) {
	s, c, err := p.usableSession(ep.SessionID)
	if err != nil {
		return providers.SendResult{}, err
	}
	chat, err := parseRecipient(ep.Chat)
	if err != nil {
		return providers.SendResult{}, &providers.PermanentError{Code: CodeInvalidRecipient, Reason: "Conversa inválida.", Err: err}
	}
	if strings.TrimSpace(ep.Text) == "" {
		return providers.SendResult{}, &providers.PermanentError{Code: CodeInvalidContent, Reason: "Texto da edição vazio.", Err: errors.New("empty edit")}
	}
	chat = p.resolvedChat(ctx, s, chat)
	var newContent *waE2E.Message
	if ep.Type == zapbase.MessageText || ep.Type == "" {
		newContent = &waE2E.Message{Conversation: proto.String(ep.Text)}
	} else {
		return providers.SendResult{}, &providers.PermanentError{Code: string(zapbase.CodeUnsupportedByProvider),
			Reason: "O WhatsApp Web só permite editar mensagens de texto por aqui.", Err: providers.ErrUnsupported}
	}
	msg := &waE2E.Message{EditedMessage: &waE2E.FutureProofMessage{Message: &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{
		Key:           &waCommon.MessageKey{FromMe: proto.Bool(true), ID: proto.String(ep.ProviderMessageID), RemoteJID: proto.String(chat.String())},
		Type:          waE2E.ProtocolMessage_MESSAGE_EDIT.Enum(),
		EditedMessage: newContent,
		TimestampMS:   proto.Int64(time.Now().UnixMilli()),
	}}}}
	resp, err := c.SendMessage(ctx, chat, msg, NewMessageID())
	if err != nil {
		return providers.SendResult{}, classifySendError(fmt.Errorf("edit message %s: %w", ep.ProviderMessageID, err), nil)
	}
	return providers.SendResult{ProviderMessageID: ep.ProviderMessageID, Timestamp: resp.Timestamp}, nil
}

// RevokeMessage implements providers.MessageRevoker: deletes one of the
// session's sent messages for everyone.
func (p *Provider) RevokeMessage(ctx context.Context, rp providers.RevokeParams) error {
	s, c, err := p.usableSession(rp.SessionID)
	if err != nil {
		return err
	}
	chat, err := parseRecipient(rp.Chat)
	if err != nil {
		return &providers.PermanentError{Code: CodeInvalidRecipient, Reason: "Conversa inválida.", Err: err}
	}
	chat = p.resolvedChat(ctx, s, chat)
	msg := &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{
		Type: waE2E.ProtocolMessage_REVOKE.Enum(),
		Key:  &waCommon.MessageKey{FromMe: proto.Bool(true), ID: proto.String(rp.ProviderMessageID), RemoteJID: proto.String(chat.String())},
	}}
	if _, err := c.SendMessage(ctx, chat, msg, NewMessageID()); err != nil {
		return classifySendError(fmt.Errorf("revoke message %s: %w", rp.ProviderMessageID, err), nil)
	}
	return nil
}

// resolvedChat maps a phone number to the JID its messages went to (the
// cached ninth-digit resolution), so an edit reaches the same chat.
func (p *Provider) resolvedChat(ctx context.Context, s *session, chat types.JID) types.JID {
	if chat.Server != types.DefaultUserServer {
		return chat
	}
	if r, ok, err := p.cachedResolution(ctx, s, chat.User); err == nil && ok && r.OnWhatsApp {
		if j, err := types.ParseJID(r.JID); err == nil {
			return j
		}
	}
	return chat
}
