package whatsmeow

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"google.golang.org/protobuf/proto"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
)

const voiceMime = "audio/ogg; codecs=opus"

// Send implements providers.Provider. Only the replica that drives the
// session sends; the id chosen by dispatch is passed to WhatsApp so a resend
// after a crash reuses it.
func (p *Provider) Send(ctx context.Context, msg providers.OutboundMessage) (providers.SendResult, error) {
	s, c, err := p.usableSession(msg.SessionID)
	if err != nil {
		return providers.SendResult{}, err
	}
	if msg.TenantID != s.tenantID {
		return providers.SendResult{}, &providers.PermanentError{Code: string(zapbase.CodeSessionNotFound), Reason: "Sessão não encontrada.", Err: errSessionNotFound}
	}
	to, err := parseRecipient(msg.To)
	if err != nil {
		return providers.SendResult{}, &providers.PermanentError{Code: CodeInvalidRecipient, Reason: "Destinatário inválido: use o número com DDI e DDD ou um JID do WhatsApp.", Err: err}
	}
	if msg.Type == zapbase.MessageReadMark {
		ids := []string{msg.Content.TargetMessageID}
		if err := c.MarkRead(ctx, ids, time.Now(), to, types.EmptyJID); err != nil {
			return providers.SendResult{}, classifySendError(err, nil)
		}
		return providers.SendResult{Timestamp: time.Now()}, nil
	}
	// A phone number is resolved to the JID WhatsApp knows before the first
	// send (Brazil's ninth digit); a number without an account fails here.
	number := ""
	if to.Server == types.DefaultUserServer && !strings.Contains(msg.To, "@") {
		number = to.User
		if to, err = p.resolveRecipient(ctx, s, c, to); err != nil {
			return providers.SendResult{}, err
		}
	}
	wm, err := p.buildMessage(ctx, c, s, to, msg)
	if err != nil {
		return providers.SendResult{}, err
	}
	id := msg.ProviderMessageID
	if id == "" {
		id = NewMessageID()
	}
	resp, err := c.SendMessage(ctx, to, wm, id)
	if err != nil {
		return providers.SendResult{}, classifySendError(fmt.Errorf("send message %s: %w", id, err), s.snapshot().Until)
	}
	res := providers.SendResult{ProviderMessageID: resp.ID, Timestamp: resp.Timestamp}
	if res.ProviderMessageID == "" {
		res.ProviderMessageID = id
	}
	// whatsmeow sends to a phone number's LID when it knows one: record the
	// JID the message actually went to.
	sentTo := to
	if !resp.Chat.IsEmpty() {
		sentTo = resp.Chat.ToNonAD()
	}
	if sentTo.Server == types.HiddenUserServer || sentTo.Server == types.DefaultUserServer {
		res.RecipientID = sentTo.String()
	}
	p.recordSentTo(ctx, s, number, sentTo)
	return res, nil
}

// usableSession returns the driven, connected session or a classified error.
func (p *Provider) usableSession(sessionID string) (*session, Client, error) {
	s := p.session(sessionID)
	if s == nil || !p.Owns(sessionID) {
		return nil, nil, &providers.SessionUnavailableError{State: "not_owner", Err: fmt.Errorf("session %s is not driven by this replica", sessionID)}
	}
	st := s.snapshot()
	switch st.State {
	case providers.StateLoggedOut:
		return nil, nil, &providers.AuthLostError{Code: CodeLoggedOut, Reason: "O aparelho foi desconectado do WhatsApp; pareie a sessão novamente.", Err: errors.New("logged out")}
	case providers.StateBanned:
		se := &providers.SessionUnavailableError{State: providers.StateBanned, Err: errors.New("temporarily banned")}
		if st.Until != nil {
			se.Until = *st.Until
		}
		return nil, nil, se
	case providers.StateOutdated, providers.StateStreamReplaced:
		return nil, nil, &providers.SessionUnavailableError{State: st.State, Err: errors.New(st.State)}
	}
	c := s.currentClient()
	if c == nil || !c.IsConnected() || !c.IsLoggedIn() {
		return nil, nil, &providers.SessionUnavailableError{State: providers.StateDisconnected, Err: whatsmeow.ErrNotConnected}
	}
	return s, c, nil
}

func (p *Provider) buildMessage(ctx context.Context, c Client, s *session, to types.JID, msg providers.OutboundMessage) (*waE2E.Message, error) {
	ct := msg.Content
	invalid := func(reason string) error {
		return &providers.PermanentError{Code: CodeInvalidContent, Reason: reason, Err: errors.New(reason)}
	}
	switch msg.Type {
	case zapbase.MessagePoll:
		return buildPoll(c, ct) // polls.go
	case zapbase.MessageText:
		if strings.TrimSpace(ct.Text) == "" {
			return nil, invalid("Texto da mensagem vazio.")
		}
		ctxInfo, err := p.replyContext(ctx, c, s, to, ct.ReplyTo)
		if err != nil {
			return nil, err
		}
		if ctxInfo == nil {
			return &waE2E.Message{Conversation: proto.String(ct.Text)}, nil
		}
		return &waE2E.Message{ExtendedTextMessage: &waE2E.ExtendedTextMessage{Text: proto.String(ct.Text), ContextInfo: ctxInfo}}, nil
	case zapbase.MessageImage, zapbase.MessageVideo, zapbase.MessageAudio, zapbase.MessageVoice,
		zapbase.MessageDocument, zapbase.MessageSticker:
		return p.buildMedia(ctx, c, s, to, msg)
	case zapbase.MessageLocation:
		if ct.Latitude == nil || ct.Longitude == nil {
			return nil, invalid("Localização sem latitude/longitude.")
		}
		return &waE2E.Message{LocationMessage: &waE2E.LocationMessage{
			DegreesLatitude: ct.Latitude, DegreesLongitude: ct.Longitude,
			Name: nonEmpty(ct.Name), Address: nonEmpty(ct.Address),
		}}, nil
	case zapbase.MessageContacts:
		if len(ct.Contacts) == 0 {
			return nil, invalid("Nenhum contato para enviar.")
		}
		cards := make([]*waE2E.ContactMessage, 0, len(ct.Contacts))
		for _, k := range ct.Contacts {
			cards = append(cards, &waE2E.ContactMessage{DisplayName: proto.String(k.Name), Vcard: proto.String(vcardOf(k))})
		}
		if len(cards) == 1 {
			return &waE2E.Message{ContactMessage: cards[0]}, nil
		}
		return &waE2E.Message{ContactsArrayMessage: &waE2E.ContactsArrayMessage{
			DisplayName: proto.String(fmt.Sprintf("%d contatos", len(cards))), Contacts: cards,
		}}, nil
	case zapbase.MessageReaction:
		if ct.TargetMessageID == "" {
			return nil, invalid("Reação sem a mensagem alvo (targetMessageId).")
		}
		key, err := p.messageKey(ctx, c, s, to, ct.TargetMessageID)
		if err != nil {
			return nil, err
		}
		return &waE2E.Message{ReactionMessage: &waE2E.ReactionMessage{
			Key: key, Text: proto.String(ct.Emoji), SenderTimestampMS: proto.Int64(time.Now().UnixMilli()),
		}}, nil
	}
	return nil, &providers.PermanentError{Code: CodeUnsupportedType, Reason: fmt.Sprintf("Tipo de mensagem %q não é suportado pelo WhatsApp Web.", msg.Type), Err: providers.ErrUnsupported}
}

// messageKey identifies a message of the chat (for reactions and quotes):
// ours if an outbound row has that id, else the contact's.
func (p *Provider) messageKey(ctx context.Context, c Client, s *session, chat types.JID, id string) (*waCommon.MessageKey, error) {
	ref, _, err := p.lookupMessage(ctx, s.tenantID, id)
	if err != nil {
		return nil, &providers.RetryableError{Err: err}
	}
	key := &waCommon.MessageKey{RemoteJID: proto.String(chat.String()), FromMe: proto.Bool(ref.fromMe), ID: proto.String(id)}
	if chat.Server == types.GroupServer && !ref.fromMe && ref.sender != "" {
		if j, err := parseRecipient(ref.sender); err == nil {
			key.Participant = proto.String(j.String())
		}
	}
	return key, nil
}

func (p *Provider) replyContext(ctx context.Context, c Client, s *session, chat types.JID, replyTo string) (*waE2E.ContextInfo, error) {
	if replyTo == "" {
		return nil, nil
	}
	ref, _, err := p.lookupMessage(ctx, s.tenantID, replyTo)
	if err != nil {
		return nil, &providers.RetryableError{Err: err}
	}
	participant := chat
	if ref.fromMe {
		if pn, _ := c.OwnID(); !pn.IsEmpty() {
			participant = pn
		}
	} else if chat.Server == types.GroupServer && ref.sender != "" {
		if j, err := parseRecipient(ref.sender); err == nil {
			participant = j
		}
	}
	return &waE2E.ContextInfo{StanzaID: proto.String(replyTo), Participant: proto.String(participant.String())}, nil
}

func (p *Provider) buildMedia(ctx context.Context, c Client, s *session, to types.JID, msg providers.OutboundMessage) (*waE2E.Message, error) {
	ct := msg.Content
	data, mimeType, err := p.fetchMedia(ctx, s.tenantID, ct)
	if err != nil {
		return nil, err
	}
	if ct.MimeType != "" {
		mimeType = ct.MimeType
	}
	if msg.Type == zapbase.MessageVoice && !isOggOpus(mimeType, data) {
		if p.ffmpeg == "" {
			return nil, &providers.PermanentError{Code: CodeVoiceFormat,
				Reason: "Mensagens de voz precisam estar em OGG/Opus. Envie nesse formato ou instale o ffmpeg no servidor para conversão automática.",
				Err:    fmt.Errorf("voice note in %q and no ffmpeg on PATH", mimeType)}
		}
		data, err = transcodeToOpus(ctx, p.ffmpeg, data)
		if err != nil {
			return nil, &providers.PermanentError{Code: CodeVoiceFormat, Reason: "Não foi possível converter o áudio para OGG/Opus.", Err: err}
		}
		mimeType = voiceMime
	}
	if msg.Type == zapbase.MessageVoice {
		mimeType = voiceMime
	}
	mediaType := map[zapbase.MessageType]whatsmeow.MediaType{
		zapbase.MessageImage: whatsmeow.MediaImage, zapbase.MessageSticker: whatsmeow.MediaImage,
		zapbase.MessageVideo: whatsmeow.MediaVideo, zapbase.MessageAudio: whatsmeow.MediaAudio,
		zapbase.MessageVoice: whatsmeow.MediaAudio, zapbase.MessageDocument: whatsmeow.MediaDocument,
	}[msg.Type]
	up, err := c.Upload(ctx, data, mediaType)
	if err != nil {
		return nil, classifySendError(fmt.Errorf("upload media: %w", err), nil)
	}
	ctxInfo, err := p.replyContext(ctx, c, s, to, ct.ReplyTo)
	if err != nil {
		return nil, err
	}
	length := proto.Uint64(up.FileLength)
	switch msg.Type {
	case zapbase.MessageImage:
		return &waE2E.Message{ImageMessage: &waE2E.ImageMessage{
			URL: &up.URL, DirectPath: &up.DirectPath, MediaKey: up.MediaKey, FileEncSHA256: up.FileEncSHA256,
			FileSHA256: up.FileSHA256, FileLength: length, Mimetype: proto.String(mimeType),
			Caption: nonEmpty(ct.Caption), ContextInfo: ctxInfo,
		}}, nil
	case zapbase.MessageSticker:
		return &waE2E.Message{StickerMessage: &waE2E.StickerMessage{
			URL: &up.URL, DirectPath: &up.DirectPath, MediaKey: up.MediaKey, FileEncSHA256: up.FileEncSHA256,
			FileSHA256: up.FileSHA256, FileLength: length, Mimetype: proto.String(mimeType), ContextInfo: ctxInfo,
		}}, nil
	case zapbase.MessageVideo:
		return &waE2E.Message{VideoMessage: &waE2E.VideoMessage{
			URL: &up.URL, DirectPath: &up.DirectPath, MediaKey: up.MediaKey, FileEncSHA256: up.FileEncSHA256,
			FileSHA256: up.FileSHA256, FileLength: length, Mimetype: proto.String(mimeType),
			Caption: nonEmpty(ct.Caption), Seconds: secs(ct.Seconds), ContextInfo: ctxInfo,
		}}, nil
	case zapbase.MessageAudio, zapbase.MessageVoice:
		return &waE2E.Message{AudioMessage: &waE2E.AudioMessage{
			URL: &up.URL, DirectPath: &up.DirectPath, MediaKey: up.MediaKey, FileEncSHA256: up.FileEncSHA256,
			FileSHA256: up.FileSHA256, FileLength: length, Mimetype: proto.String(mimeType),
			PTT: proto.Bool(msg.Type == zapbase.MessageVoice), Seconds: secs(ct.Seconds), ContextInfo: ctxInfo,
		}}, nil
	default: // document
		name := ct.Filename
		if name == "" {
			name = "documento" + extensionFor(mimeType, "")
		}
		return &waE2E.Message{DocumentMessage: &waE2E.DocumentMessage{
			URL: &up.URL, DirectPath: &up.DirectPath, MediaKey: up.MediaKey, FileEncSHA256: up.FileEncSHA256,
			FileSHA256: up.FileSHA256, FileLength: length, Mimetype: proto.String(mimeType),
			FileName: proto.String(name), Title: proto.String(name), Caption: nonEmpty(ct.Caption), ContextInfo: ctxInfo,
		}}, nil
	}
}

// fetchMedia reads outbound media from the media store (MediaPath) or by
// URL (MediaURL), bounded by MaxMediaBytes.
func (p *Provider) fetchMedia(ctx context.Context, tenantID string, ct providers.Content) ([]byte, string, error) {
	unavailable := func(err error) error {
		return &providers.PermanentError{Code: CodeMediaUnavailable, Reason: "Não foi possível obter a mídia da mensagem.", Err: err}
	}
	if ct.MediaPath != "" {
		g, ok := p.cfg.Media.(MediaGetter)
		if !ok {
			return nil, "", unavailable(errors.New("media store cannot read paths"))
		}
		data, mimeType, err := g.Get(ctx, tenantID, ct.MediaPath)
		if err != nil {
			return nil, "", &providers.RetryableError{Err: fmt.Errorf("read media %s: %w", ct.MediaPath, err)}
		}
		if int64(len(data)) > p.cfg.MaxMediaBytes {
			return nil, "", &providers.PermanentError{Code: CodeMediaTooLarge, Reason: "Mídia maior que o limite permitido.", Err: errors.New("media too large")}
		}
		return data, mimeType, nil
	}
	if ct.MediaURL == "" {
		return nil, "", &providers.PermanentError{Code: CodeInvalidContent, Reason: "Mensagem de mídia sem mediaUrl ou mediaPath.", Err: errors.New("no media")}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, ct.MediaURL, nil)
	if err != nil {
		return nil, "", unavailable(err)
	}
	resp, err := p.cfg.HTTPClient.Do(req)
	if err != nil {
		return nil, "", &providers.RetryableError{Err: fmt.Errorf("fetch media: %w", err)}
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode >= 500 || resp.StatusCode == http.StatusTooManyRequests:
		return nil, "", &providers.RetryableError{Err: fmt.Errorf("fetch media: status %d", resp.StatusCode)}
	case resp.StatusCode != http.StatusOK:
		return nil, "", unavailable(fmt.Errorf("fetch media: status %d", resp.StatusCode))
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, p.cfg.MaxMediaBytes+1))
	if err != nil {
		return nil, "", &providers.RetryableError{Err: fmt.Errorf("read media: %w", err)}
	}
	if int64(len(data)) > p.cfg.MaxMediaBytes {
		return nil, "", &providers.PermanentError{Code: CodeMediaTooLarge, Reason: "Mídia maior que o limite permitido.", Err: errors.New("media too large")}
	}
	mimeType := resp.Header.Get("Content-Type")
	if mimeType == "" || mimeType == "application/octet-stream" {
		mimeType = http.DetectContentType(data)
	}
	return data, mimeType, nil
}

// isOggOpus: an Ogg container whose first stream is Opus.
func isOggOpus(mimeType string, data []byte) bool {
	if !bytes.HasPrefix(data, []byte("OggS")) {
		return false
	}
	head := data
	if len(head) > 512 {
		head = head[:512]
	}
	return bytes.Contains(head, []byte("OpusHead"))
}

func lookFFmpeg(configured string) string {
	if configured != "" {
		return configured
	}
	path, err := exec.LookPath("ffmpeg")
	if err != nil {
		return ""
	}
	return path
}

func transcodeToOpus(ctx context.Context, ffmpeg string, in []byte) ([]byte, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, ffmpeg, "-hide_banner", "-loglevel", "error", "-i", "pipe:0",
		"-vn", "-ac", "1", "-ar", "48000", "-c:a", "libopus", "-b:a", "32k", "-f", "ogg", "pipe:1")
	cmd.Stdin = bytes.NewReader(in)
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("ffmpeg: %w: %s", err, strings.TrimSpace(stderr.String()))
	}
	return out.Bytes(), nil
}

func vcardOf(k providers.ContactCard) string {
	if k.VCard != "" {
		return k.VCard
	}
	var b strings.Builder
	b.WriteString("BEGIN:VCARD\nVERSION:3.0\n")
	fmt.Fprintf(&b, "FN:%s\n", k.Name)
	if k.Org != "" {
		fmt.Fprintf(&b, "ORG:%s\n", k.Org)
	}
	for _, ph := range k.Phones {
		digits := strings.Map(func(r rune) rune {
			if r >= '0' && r <= '9' {
				return r
			}
			return -1
		}, ph)
		fmt.Fprintf(&b, "TEL;type=CELL;waid=%s:+%s\n", digits, digits)
	}
	for _, e := range k.Emails {
		fmt.Fprintf(&b, "EMAIL:%s\n", e)
	}
	b.WriteString("END:VCARD")
	return b.String()
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func secs(n int) *uint32 {
	if n <= 0 {
		return nil
	}
	v := uint32(n)
	return &v
}

// MarkRead implements providers.ReadMarker.
func (p *Provider) MarkRead(ctx context.Context, mp providers.MarkReadParams) error {
	_, c, err := p.usableSession(mp.SessionID)
	if err != nil {
		return err
	}
	chat, err := parseRecipient(mp.Chat)
	if err != nil {
		return &providers.PermanentError{Code: CodeInvalidRecipient, Reason: "Conversa inválida.", Err: err}
	}
	sender := types.EmptyJID
	if mp.Sender != "" {
		if sender, err = parseRecipient(mp.Sender); err != nil {
			return &providers.PermanentError{Code: CodeInvalidRecipient, Reason: "Remetente inválido.", Err: err}
		}
	}
	if mp.Typing {
		_ = c.SendChatPresence(ctx, chat, true)
	}
	if err := c.MarkRead(ctx, mp.ProviderMessageIDs, time.Now(), chat, sender); err != nil {
		return classifySendError(fmt.Errorf("mark read: %w", err), nil)
	}
	return nil
}

// SetTyping implements providers.TypingIndicator.
func (p *Provider) SetTyping(ctx context.Context, sessionID, to string, typing bool) error {
	_, c, err := p.usableSession(sessionID)
	if err != nil {
		return err
	}
	jid, err := parseRecipient(to)
	if err != nil {
		return &providers.PermanentError{Code: CodeInvalidRecipient, Reason: "Destinatário inválido.", Err: err}
	}
	if err := c.SendChatPresence(ctx, jid, typing); err != nil {
		return classifySendError(fmt.Errorf("chat presence: %w", err), nil)
	}
	return nil
}
