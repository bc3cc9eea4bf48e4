package meta

// File size: the webhook inbox processor: claim, parse, apply (messages,
// statuses, media) and retry of one delivery, in processing order.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/backoff"
	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/tracing"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// Inbox processing: claimed rows carry a lease (next_attempt_at pushed
// forward) so a crash mid-processing is retried by any replica; every step
// is idempotent (inbound rows unique on wamid, receipts monotonic, contact
// upserts), so reprocessing a payload is harmless.
const (
	inboxLease      = time.Minute
	inboxMaxBackoff = time.Hour
)

// inboxItemKey carries the id of the inbox row being processed, so a long
// media transfer can extend the row's lease (extendLease).
type inboxItemKey struct{}

// extendLease pushes the lease of the inbox row being processed to at
// least d from now: a large download must not let another replica claim
// the same payload halfway (harmless, everything is idempotent, but
// wasteful).
func (p *Provider) extendLease(ctx context.Context, d time.Duration) {
	id, ok := ctx.Value(inboxItemKey{}).(int64)
	if !ok || d <= inboxLease {
		return
	}
	if err := p.store.db.ExtendInboxLease(ctx, id, d); err != nil {
		p.log.Warn("extend meta inbox lease", "inbox_id", id, "error", err)
	}
}

// runInbox drains the inbox until ctx ends: woken by webhooks, polling as a
// safety net.
func (p *Provider) runInbox(ctx context.Context) {
	t := time.NewTicker(p.params.PollInterval)
	defer t.Stop()
	for {
		n, err := p.ProcessInbox(ctx)
		if err != nil && ctx.Err() == nil {
			p.log.Error("meta inbox", "error", err)
		}
		if n == DefaultInboxBatch {
			continue // more may be waiting
		}
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
		case <-t.C:
		}
	}
}

// ProcessInbox claims and processes one batch of pending Meta webhooks and
// returns how many were claimed. Start runs it in the background; tests
// call it directly.
func (p *Provider) ProcessInbox(ctx context.Context) (int, error) {
	items, err := p.store.db.ClaimInbox(ctx, InboxSource, DefaultInboxBatch, inboxLease)
	if err != nil {
		return 0, fmt.Errorf("claim meta webhooks: %w", err)
	}
	for _, it := range items {
		// Processing continues the webhook request's trace: the inbound rows
		// it writes carry it on to the agent's reply and its send.
		pctx, span := p.tracer.Start(tracing.ContextWithTraceparent(ctx, it.Traceparent), "zapbase.meta.webhook.process",
			trace.WithSpanKind(trace.SpanKindConsumer),
			trace.WithAttributes(attribute.Int64("zapbase.inbox_id", it.ID), attribute.Int("zapbase.attempt", it.Attempts)))
		perr := p.processPayload(context.WithValue(pctx, inboxItemKey{}, it.ID), it.Payload, it.Attempts)
		if perr != nil {
			span.RecordError(perr)
			span.SetStatus(codes.Error, "processing failed")
		}
		span.End()
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		if perr == nil {
			err = p.store.db.MarkInboxProcessed(wctx, it.ID)
		} else {
			retryIn := backoff.Policy{Base: time.Second, Max: inboxMaxBackoff}.Ceiling(it.Attempts + 1)
			p.log.Warn("meta webhook processing failed, will retry", "inbox_id", it.ID, "attempt", it.Attempts,
				"retry_in", retryIn.String(), "error", perr)
			err = p.store.db.RetryInbox(wctx, it.ID, perr.Error(), retryIn)
		}
		cancel()
		if err != nil {
			return len(items), fmt.Errorf("record meta webhook %d: %w", it.ID, err)
		}
	}
	return len(items), nil
}

// Webhook payload (the parts zapbase reads; unknown fields are ignored).
type (
	webhookPayload struct {
		Object string `json:"object"`
		Entry  []struct {
			ID      string `json:"id"`
			Changes []struct {
				Field string          `json:"field"`
				Value json.RawMessage `json:"value"`
			} `json:"changes"`
		} `json:"entry"`
	}
	changeValue struct {
		Metadata struct {
			DisplayPhoneNumber string `json:"display_phone_number"`
			PhoneNumberID      string `json:"phone_number_id"`
		} `json:"metadata"`
		Contacts        []waContact       `json:"contacts"`
		Messages        []json.RawMessage `json:"messages"`
		Statuses        []waStatus        `json:"statuses"`
		Errors          []waError         `json:"errors"`
		UserPreferences []waUserPref      `json:"user_preferences"`
	}
	waContact struct {
		Profile struct {
			Name     string `json:"name"`
			Username string `json:"username"`
		} `json:"profile"`
		WaID         string `json:"wa_id"`
		UserID       string `json:"user_id"`
		ParentUserID string `json:"parent_user_id"`
	}
	// waUserPref is one user_preferences entry (marketing stop/resume).
	waUserPref struct {
		WaID      string          `json:"wa_id"`
		UserID    string          `json:"user_id"`
		Detail    string          `json:"detail"`
		Category  string          `json:"category"`
		Value     string          `json:"value"`
		Timestamp json.RawMessage `json:"timestamp"`
	}
	waError struct {
		Code      int    `json:"code"`
		Title     string `json:"title"`
		Message   string `json:"message"`
		ErrorData struct {
			Details string `json:"details"`
		} `json:"error_data"`
	}
	waStatus struct {
		ID                    string    `json:"id"`
		Status                string    `json:"status"`
		Timestamp             string    `json:"timestamp"`
		RecipientID           string    `json:"recipient_id"`
		RecipientUserID       string    `json:"recipient_user_id"`
		BizOpaqueCallbackData string    `json:"biz_opaque_callback_data"`
		Errors                []waError `json:"errors"`
		// Groups: the status of a group send names the group.
		GroupID                string          `json:"group_id"`
		RecipientType          string          `json:"recipient_type"`
		RecipientParticipantID string          `json:"recipient_participant_id"`
		Pricing                json.RawMessage `json:"pricing"`
		Conversation           json.RawMessage `json:"conversation"`
	}
	waMedia struct {
		ID       string `json:"id"`
		MimeType string `json:"mime_type"`
		SHA256   string `json:"sha256"`
		Caption  string `json:"caption"`
		Filename string `json:"filename"`
		Voice    bool   `json:"voice"`
		Animated bool   `json:"animated"`
	}
	waMessage struct {
		From             string                 `json:"from"`
		FromUserID       string                 `json:"from_user_id"`
		FromParentUserID string                 `json:"from_parent_user_id"`
		GroupID          string                 `json:"group_id"`
		ID               string                 `json:"id"`
		Timestamp        string                 `json:"timestamp"`
		Type             string                 `json:"type"`
		Context          json.RawMessage        `json:"context"`
		Referral         json.RawMessage        `json:"referral"`
		Errors           []waError              `json:"errors"`
		Text             *struct{ Body string } `json:"text"`
		Image            *waMedia               `json:"image"`
		Video            *waMedia               `json:"video"`
		Document         *waMedia               `json:"document"`
		Audio            *waMedia               `json:"audio"`
		Sticker          *waMedia               `json:"sticker"`
		Location         *struct {
			Latitude  float64 `json:"latitude"`
			Longitude float64 `json:"longitude"`
			Name      string  `json:"name"`
			Address   string  `json:"address"`
		} `json:"location"`
		Contacts []struct {
			Name struct {
				FormattedName string `json:"formatted_name"`
			} `json:"name"`
			Phones []struct {
				Phone string `json:"phone"`
				WaID  string `json:"wa_id"`
			} `json:"phones"`
			Emails []struct {
				Email string `json:"email"`
			} `json:"emails"`
			Org struct {
				Company string `json:"company"`
			} `json:"org"`
			VCard string `json:"vcard"`
		} `json:"contacts"`
		Interactive *struct {
			Type        string `json:"type"`
			ButtonReply *struct {
				ID    string `json:"id"`
				Title string `json:"title"`
			} `json:"button_reply"`
			ListReply *struct {
				ID          string `json:"id"`
				Title       string `json:"title"`
				Description string `json:"description"`
			} `json:"list_reply"`
			NfmReply *struct {
				Name string `json:"name"`
				Body string `json:"body"`
			} `json:"nfm_reply"`
		} `json:"interactive"`
		Button *struct {
			Payload string `json:"payload"`
			Text    string `json:"text"`
		} `json:"button"`
		Reaction *struct {
			MessageID string  `json:"message_id"`
			Emoji     *string `json:"emoji"`
		} `json:"reaction"`
		System *struct {
			Body string `json:"body"`
			Type string `json:"type"`
			WaID string `json:"wa_id"`
			// The customer's new business-scoped user id (BSUID) and its
			// parent; user_changed_user_id carries no phone number.
			UserID         string `json:"user_id,omitempty"`
			ParentUserID   string `json:"parent_user_id,omitempty"`
			PreviousUserID string `json:"previous_user_id,omitempty"`
		} `json:"system"`
	}
	waContext struct {
		From                string `json:"from"`
		ID                  string `json:"id"`
		Forwarded           bool   `json:"forwarded"`
		FrequentlyForwarded bool   `json:"frequently_forwarded"`
	}
)

// processPayload applies one stored webhook. It returns an error only for
// failures worth retrying the whole payload (database, transient media).
func (p *Provider) processPayload(ctx context.Context, body []byte, attempt int) error {
	var pl webhookPayload
	if err := json.Unmarshal(body, &pl); err != nil {
		p.log.Error("meta webhook payload is not JSON, dropped", "error", err)
		return nil // verified but unparseable: retrying cannot help
	}
	var errs []error
	for _, e := range pl.Entry {
		for _, ch := range e.Changes {
			switch ch.Field {
			case "messages", "user_preferences":
			case "account_update":
				if err := p.applyAccountUpdate(ctx, e.ID, ch.Value); err != nil {
					errs = append(errs, err)
				}
				continue
			case "phone_number_quality_update":
				if err := p.applyQualityUpdate(ctx, e.ID, ch.Value); err != nil {
					errs = append(errs, err)
				}
				continue
			case "message_template_status_update", "message_template_quality_update", "template_category_update":
				if err := p.applyTemplateUpdate(ctx, e.ID, ch.Field, ch.Value); err != nil {
					errs = append(errs, err)
				}
				continue
			default:
				// Other fields: acknowledged, not applied.
				p.log.Debug("meta webhook field ignored", "field", ch.Field, "waba_id", e.ID)
				continue
			}
			var v changeValue
			if err := json.Unmarshal(ch.Value, &v); err != nil {
				p.log.Error("meta webhook change is malformed, skipped", "waba_id", e.ID, "error", err)
				continue
			}
			rt, err := p.routes.routeFor(ctx, v.Metadata.PhoneNumberID)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			if rt == nil {
				p.log.Warn("meta webhook for an unknown number, skipped", "phone_number_id", v.Metadata.PhoneNumberID)
				continue
			}
			for _, up := range v.UserPreferences {
				if err := p.applyUserPreference(ctx, rt, up); err != nil {
					errs = append(errs, err)
				}
			}
			for _, s := range v.Statuses {
				if err := p.applyStatus(ctx, rt, v, s); err != nil {
					errs = append(errs, err)
				}
			}
			for _, raw := range v.Messages {
				if err := p.applyMessage(ctx, rt, v, raw, attempt); err != nil {
					errs = append(errs, err)
				}
			}
			for _, se := range v.Errors {
				// System-level asynchronous errors (e.g. 130429) name no message.
				p.log.Warn("meta asynchronous error", "tenant_id", rt.TenantID, "session_id", rt.SessionID,
					"code", se.Code, "title", se.Title, "details", se.ErrorData.Details)
			}
		}
	}
	return errors.Join(errs...)
}

func parseTimestamp(s string) time.Time {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}
	}
	return time.Unix(n, 0).UTC()
}

var uuidPattern = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

var statusMap = map[string]zapbase.Status{
	"sent": zapbase.StatusSent, "delivered": zapbase.StatusDelivered, "read": zapbase.StatusRead,
	"played": zapbase.StatusPlayed, "failed": zapbase.StatusFailed,
}

func (p *Provider) applyStatus(ctx context.Context, rt *route, v changeValue, s waStatus) error {
	st, ok := statusMap[s.Status]
	if !ok || s.ID == "" {
		p.log.Warn("meta status ignored", "tenant_id", rt.TenantID, "status", s.Status)
		return nil
	}
	if rowID, ok := strings.CutPrefix(s.BizOpaqueCallbackData, callbackPrefix); ok && uuidPattern.MatchString(rowID) {
		// A send whose answer was lost still gets its wamid.
		if err := p.store.bindMessageID(ctx, rt.TenantID, rowID, s.ID); err != nil {
			return err
		}
	}
	group := s.GroupID != "" || s.RecipientType == "group"
	rc := providers.Receipt{
		TenantID: rt.TenantID, SessionID: rt.SessionID, Provider: zapbase.ProviderMeta,
		ProviderMessageIDs: []string{s.ID}, Status: st, Timestamp: parseTimestamp(s.Timestamp),
		Recipient: s.RecipientID,
	}
	if group {
		// The chat is the group; a participant's receipt is the group
		// message's receipt (its row is keyed on the wamid).
		rc.Recipient = firstNonEmpty(s.GroupID, s.RecipientID)
	}
	if rc.Recipient == "" {
		rc.Recipient = s.RecipientUserID
	}
	var failCode int
	if st == zapbase.StatusFailed {
		if len(s.Errors) > 0 {
			failCode = s.Errors[0].Code
			rc.ErrorCode = codeString(failCode)
			rc.ErrorReason = Reason(failCode)
		} else {
			rc.ErrorCode, rc.ErrorReason = "unknown", "A Meta informou falha no envio sem detalhar o motivo."
		}
	}
	if err := p.events.Receipt(ctx, rc); err != nil {
		return err
	}
	if len(s.Pricing) > 0 || len(s.Conversation) > 0 {
		if err := p.recordPricing(ctx, rt, s); err != nil {
			return err
		}
	}
	if group {
		return nil // participants are not 1:1 contacts
	}
	if failCode == 131050 {
		// The customer stopped marketing messages: honoured before the
		// next marketing template (Meta would fail it again).
		contact := firstNonEmpty(s.RecipientID, s.RecipientUserID)
		if err := p.store.setOptOut(ctx, rt.TenantID, rt.SessionID, contact, optOutMarketing, true,
			"send failed with 131050", firstNonZero(rc.Timestamp, p.now())); err != nil {
			return err
		}
	}
	// 2026 status webhooks carry the recipient's identities: link them.
	id := contactIdentity{WaID: s.RecipientID, BSUID: s.RecipientUserID}
	for _, c := range v.Contacts {
		if (c.WaID != "" && c.WaID == id.WaID) || (c.UserID != "" && c.UserID == id.BSUID) {
			id.WaID, id.BSUID = firstNonEmpty(id.WaID, c.WaID), firstNonEmpty(id.BSUID, c.UserID)
			id.ParentBSUID = c.ParentUserID
			id.ProfileName, id.Username = c.Profile.Name, c.Profile.Username
		}
	}
	if id.WaID != "" && id.BSUID != "" {
		return p.store.linkContact(ctx, rt.TenantID, rt.SessionID, id)
	}
	return nil
}

// recordPricing stores a status's pricing (and conversation, present on
// older webhook versions and free entry points) on the outbound row, and
// learns a template's category from it.
func (p *Provider) recordPricing(ctx context.Context, rt *route, s waStatus) error {
	rec := map[string]json.RawMessage{}
	if len(s.Pricing) > 0 {
		rec["pricing"] = s.Pricing
		var pr struct {
			Category string `json:"category"`
		}
		if json.Unmarshal(s.Pricing, &pr) == nil && pr.Category != "" {
			rec["category"], _ = json.Marshal(pr.Category)
		}
	}
	if len(s.Conversation) > 0 {
		rec["conversation"] = s.Conversation
	}
	b, _ := json.Marshal(rec)
	msgType, name, lang, err := p.store.recordPricing(ctx, rt.TenantID, s.ID, b)
	if err != nil {
		return err
	}
	var pr struct {
		Category string `json:"category"`
	}
	_ = json.Unmarshal(s.Pricing, &pr)
	if msgType == string(zapbase.MessageTemplate) && name != "" && pr.Category != "" && rt.WABAID != "" {
		// Meta bills a template by its category: marketing, utility,
		// authentication (marketing_lite is marketing sent via MM Lite).
		cat := strings.ToUpper(pr.Category)
		if cat == "MARKETING_LITE" {
			cat = "MARKETING"
		}
		if cat == "MARKETING" || cat == "UTILITY" || cat == "AUTHENTICATION" {
			return p.store.upsertTemplate(ctx, templateUpdate{WABAID: rt.WABAID, Name: name, Language: lang, Cat: cat})
		}
	}
	return nil
}

func firstNonZero(a, b time.Time) time.Time {
	if !a.IsZero() {
		return a
	}
	return b
}

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func (p *Provider) applyMessage(ctx context.Context, rt *route, v changeValue, raw json.RawMessage, attempt int) error {
	var m waMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		p.log.Error("meta inbound message malformed, skipped", "tenant_id", rt.TenantID, "error", err)
		return nil
	}
	if m.ID == "" {
		p.log.Warn("meta inbound message without id, skipped", "tenant_id", rt.TenantID)
		return nil
	}
	// Sender: phone (from) and/or BSUID (from_user_id); value.contacts
	// holds the profile and, since 2026, user_id and parent_user_id.
	id := contactIdentity{WaID: m.From, BSUID: m.FromUserID, ParentBSUID: m.FromParentUserID}
	if isBSUID(m.From) && m.FromUserID == "" {
		id.WaID, id.BSUID = "", m.From
	}
	for _, c := range v.Contacts {
		if (c.WaID != "" && c.WaID == m.From) || (c.UserID != "" && c.UserID == m.FromUserID) || len(v.Contacts) == 1 {
			id.WaID, id.BSUID = firstNonEmpty(id.WaID, c.WaID), firstNonEmpty(id.BSUID, c.UserID)
			id.ParentBSUID = firstNonEmpty(id.ParentBSUID, c.ParentUserID)
			id.ProfileName, id.Username = c.Profile.Name, c.Profile.Username
			break
		}
	}
	ts := parseTimestamp(m.Timestamp)
	msgType, content, media := normalize(m, raw)

	var mediaErr error
	if media != nil && media.ID != "" && p.media != nil {
		done, err := p.store.inboundMediaStored(ctx, rt.TenantID, m.ID)
		if err != nil {
			return err
		}
		if !done {
			mediaErr = p.fetchMedia(ctx, rt, media, &content)
		}
	}

	in := providers.InboundMessage{
		TenantID: rt.TenantID, SessionID: rt.SessionID, Provider: zapbase.ProviderMeta,
		ProviderMessageID: m.ID, From: firstNonEmpty(id.WaID, id.BSUID), PushName: firstNonEmpty(id.ProfileName, id.Username),
		To: rt.PhoneNumber, Type: msgType, Content: content, Timestamp: ts,
	}
	if id.WaID != "" && id.BSUID != "" {
		in.FromAlt = id.BSUID
	}
	if m.GroupID != "" {
		// A group message: the chat is the group (replies go to it), the
		// sender is the participant.
		in.IsGroup, in.Chat = true, m.GroupID
	}
	if err := p.events.Inbound(ctx, in); err != nil {
		return err
	}
	switch {
	case len(m.Errors) > 0:
		e := m.Errors[0]
		if err := p.store.markInboundError(ctx, rt.TenantID, m.ID, codeString(e.Code), Reason(e.Code)); err != nil {
			return err
		}
	case mediaErr != nil:
		// The row exists and keeps content.mediaId: a retryable failure is
		// tried again (the inbox backs off) while Meta keeps the media id;
		// RedownloadMedia can fetch it later too.
		expired := !ts.IsZero() && p.now().Sub(ts) > MediaLifetime
		if mediaRetryable(mediaErr) && !expired {
			if err := p.store.markInboundError(ctx, rt.TenantID, m.ID, mediaPendingCode,
				"A mídia recebida ainda não foi baixada da Meta: nova tentativa em instantes."); err != nil {
				return err
			}
			p.log.Warn("meta inbound media not downloaded yet, will retry", "tenant_id", rt.TenantID,
				"message_id", m.ID, "attempt", attempt, "error", mediaErr)
			return fmt.Errorf("fetch media %s of %s: %w", media.ID, m.ID, mediaErr)
		}
		reason := "Não foi possível baixar a mídia recebida da Meta. Peça para o contato reenviar."
		var perm *providers.PermanentError
		if errors.As(mediaErr, &perm) && perm.Reason != "" {
			reason = "Não foi possível baixar a mídia recebida da Meta: " + perm.Reason
		}
		p.log.Warn("meta inbound media not downloaded", "tenant_id", rt.TenantID, "message_id", m.ID, "error", mediaErr)
		if err := p.store.markInboundError(ctx, rt.TenantID, m.ID, mediaFailedCode, reason); err != nil {
			return err
		}
	case attempt > 1 && media != nil && content.MediaURL != "":
		// A retry that succeeded: the row was stored before the media.
		if err := p.store.setInboundMedia(ctx, rt.TenantID, m.ID, content); err != nil {
			return err
		}
	}
	if m.Type == "system" && m.System != nil {
		return p.applySystem(ctx, rt, m, id)
	}
	if m.GroupID != "" {
		// A group message opens no 1:1 customer-service window.
		return p.store.linkContact(ctx, rt.TenantID, rt.SessionID, id)
	}
	// A customer message opens (refreshes) the 24-hour window.
	id.InboundAt = ts
	if id.InboundAt.IsZero() {
		id.InboundAt = p.now()
	}
	return p.store.linkContact(ctx, rt.TenantID, rt.SessionID, id)
}

// applySystem applies identity changes: user_changed_number (new phone;
// Meta regenerates the BSUID, which may ride along in system.user_id) and
// user_changed_user_id (new BSUID, no phone), so the contact keeps one
// identity and its window history.
func (p *Provider) applySystem(ctx context.Context, rt *route, m waMessage, id contactIdentity) error {
	sys := m.System
	switch sys.Type {
	case "user_changed_number":
		if sys.WaID == "" || m.From == "" {
			return nil
		}
		if err := p.store.changeNumber(ctx, rt.TenantID, rt.SessionID, m.From, sys.WaID); err != nil {
			return err
		}
		if sys.UserID != "" {
			return p.store.linkContact(ctx, rt.TenantID, rt.SessionID,
				contactIdentity{WaID: sys.WaID, BSUID: sys.UserID, ParentBSUID: sys.ParentUserID})
		}
		return nil
	case "user_changed_user_id":
		if sys.UserID == "" {
			return nil
		}
		old := firstNonEmpty(sys.PreviousUserID, id.BSUID)
		if old == sys.UserID {
			old = ""
		}
		return p.store.changeUserID(ctx, rt.TenantID, rt.SessionID, old, firstNonEmpty(id.WaID, sys.WaID), sys.UserID, sys.ParentUserID)
	}
	return nil
}

// normalize maps a Meta message to the canonical type and content. Unknown
// types become "unsupported" placeholders keeping the raw message.
func normalize(m waMessage, raw json.RawMessage) (zapbase.MessageType, providers.Content, *waMedia) {
	var c providers.Content
	extra := map[string]any{}
	if len(m.Context) > 0 {
		var ctx waContext
		if json.Unmarshal(m.Context, &ctx) == nil && ctx.ID != "" {
			c.ReplyTo = ctx.ID // a reply or a button tap; forwarded has no id
		}
		extra["context"] = m.Context
	}
	if len(m.Referral) > 0 {
		extra["referral"] = m.Referral
	}
	if len(m.Errors) > 0 {
		extra["errors"] = m.Errors
	}
	var t zapbase.MessageType
	var media *waMedia
	setMedia := func(md *waMedia) {
		media = md
		c.MediaID, c.MimeType, c.Caption, c.Filename = md.ID, md.MimeType, md.Caption, md.Filename
		if md.SHA256 != "" {
			extra["sha256"] = md.SHA256
		}
		if md.Animated {
			extra["animated"] = true
		}
	}
	switch {
	case m.Type == "text" && m.Text != nil:
		t, c.Text = zapbase.MessageText, m.Text.Body
	case m.Type == "image" && m.Image != nil:
		t = zapbase.MessageImage
		setMedia(m.Image)
	case m.Type == "video" && m.Video != nil:
		t = zapbase.MessageVideo
		setMedia(m.Video)
	case m.Type == "document" && m.Document != nil:
		t = zapbase.MessageDocument
		setMedia(m.Document)
	case m.Type == "sticker" && m.Sticker != nil:
		t = zapbase.MessageSticker
		setMedia(m.Sticker)
	case m.Type == "audio" && m.Audio != nil:
		t = zapbase.MessageAudio
		if m.Audio.Voice {
			t = zapbase.MessageVoice
		}
		setMedia(m.Audio)
	case m.Type == "location" && m.Location != nil:
		t = zapbase.MessageLocation
		lat, lng := m.Location.Latitude, m.Location.Longitude
		c.Latitude, c.Longitude, c.Name, c.Address = &lat, &lng, m.Location.Name, m.Location.Address
	case m.Type == "contacts" && len(m.Contacts) > 0:
		t = zapbase.MessageContacts
		for _, mc := range m.Contacts {
			card := providers.ContactCard{Name: mc.Name.FormattedName, Org: mc.Org.Company, VCard: mc.VCard}
			for _, ph := range mc.Phones {
				card.Phones = append(card.Phones, firstNonEmpty(ph.Phone, ph.WaID))
			}
			for _, em := range mc.Emails {
				card.Emails = append(card.Emails, em.Email)
			}
			c.Contacts = append(c.Contacts, card)
		}
	case m.Type == "interactive" && m.Interactive != nil:
		t = zapbase.MessageInteractive
		switch {
		case m.Interactive.ButtonReply != nil:
			c.Text = m.Interactive.ButtonReply.Title
		case m.Interactive.ListReply != nil:
			c.Text = m.Interactive.ListReply.Title
		case m.Interactive.NfmReply != nil:
			c.Text = m.Interactive.NfmReply.Body
		}
		c.Interactive = fieldOf(raw, "interactive")
	case m.Type == "button" && m.Button != nil:
		// A template quick-reply tap: canonical interactive reply.
		t, c.Text = zapbase.MessageInteractive, m.Button.Text
		c.Interactive, _ = json.Marshal(map[string]any{"type": "button", "button": m.Button})
	case m.Type == "reaction" && m.Reaction != nil:
		t, c.TargetMessageID = zapbase.MessageReaction, m.Reaction.MessageID
		if m.Reaction.Emoji != nil {
			c.Emoji = *m.Reaction.Emoji // missing or "" means removed
		}
	case m.Type == "system" && m.System != nil:
		t, c.Text = zapbase.MessageSystem, m.System.Body
		extra["system"] = m.System
	default:
		// unsupported, order, revoke, a media type whose object is missing
		// (131052), or anything Meta adds later: keep it, never drop it.
		t = zapbase.MessageUnsupported
		if (m.Type == "image" || m.Type == "video" || m.Type == "audio" || m.Type == "document" || m.Type == "sticker") && len(m.Errors) > 0 {
			t = zapbase.MessageType(m.Type)
		}
		extra["type"] = m.Type
		extra["message"] = raw
	}
	if len(extra) > 0 {
		c.Raw, _ = json.Marshal(extra)
	}
	return t, c, media
}

// fieldOf extracts one top-level field of a JSON object as raw bytes.
func fieldOf(raw json.RawMessage, name string) json.RawMessage {
	var m map[string]json.RawMessage
	if json.Unmarshal(raw, &m) != nil {
		return nil
	}
	return m[name]
}
