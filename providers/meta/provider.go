package meta

// File size: the Meta provider's seam implementation (lifecycle, sessions,
// send, verification); sending, webhooks, inbox and classification have
// their own files.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/trace"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/backoff"
	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/secret"
	"github.com/zapbase/zapbase/startstop"
)

// ServiceWindow is Meta's customer-service window: free-form messages are
// allowed within 24 hours of the customer's last message.
const ServiceWindow = 24 * time.Hour

// Defaults of Params.
const (
	DefaultPollInterval     = time.Second
	DefaultVerifyRetryBase  = 2 * time.Second
	DefaultVerifyRetryLimit = 5 * time.Minute
	DefaultRouteCacheTTL    = 30 * time.Second
	DefaultInboxBatch       = 50
)

// Params configure a Provider.
type Params struct {
	// Store keeps the channel's own tables and reads its sessions and
	// messages (store.New(pool).MetaChannel() in production).
	Store Store
	// Box seals credentials (AAD = session id).
	Box *secret.Box
	// Events receives receipts, inbound messages and session states
	// (dispatch.NewEvents(pool) in production).
	Events providers.EventSink
	// Client configures the Graph API client (base URL, version).
	Client ClientConfig
	// Media stores inbound media; nil leaves content.mediaId only.
	Media MediaStore
	// Logger; nil discards.
	Logger *slog.Logger
	// NowFunc is the clock (service window); nil is time.Now.
	NowFunc func() time.Time
	// PollInterval of the inbox processor when no webhook wakes it.
	PollInterval time.Duration
	// VerifyRetryBase/Limit: capped exponential backoff of the background
	// number verification while the Graph API is unreachable.
	VerifyRetryBase  time.Duration
	VerifyRetryLimit time.Duration
	// RouteCacheTTL bounds how long a webhook route (number → session, app
	// secret) is cached; Initialize and Disconnect clear it on this replica.
	RouteCacheTTL time.Duration
	// WebhookMaxBytes bounds a webhook body (default MaxWebhookBytes, at
	// least MinWebhookBytes). Mount the handler with the same limit.
	WebhookMaxBytes int64
	// OnUnroutedFunc, when set, is called for every webhook delivery that
	// names no known number or WABA (acknowledged, not processed): a hook
	// for metrics.
	OnUnroutedFunc func()
}

// Provider is the Meta WhatsApp Cloud API channel (provider type meta_api).
// It sends through the Graph API, manages per-session credentials, and
// ingests webhooks through Webhook().
type Provider struct {
	client *Client
	store  *store
	events providers.EventSink
	media  MediaStore
	log    *slog.Logger
	now    func() time.Time
	params Params
	routes *routeCache
	inbox  *inboxWriter
	tracer trace.Tracer

	webhookMax    int64
	unroutedCount atomic.Int64

	// The run (Start to Stop, or ctx cancellation) is the inbox processor.
	startstop.BaseStartStop

	// base lives from New (or the Start after a Stop) to Stop: background
	// verifications run under it, also on a provider never started. base,
	// cancel and wg are replaced under mu when Start follows a Stop.
	base   context.Context
	cancel context.CancelFunc
	wg     *sync.WaitGroup

	mu       sync.Mutex
	stopped  bool
	verifies map[string]*verifyJob
	wake     chan struct{}
}

var (
	_ providers.Provider        = (*Provider)(nil)
	_ providers.SessionManager  = (*Provider)(nil)
	_ providers.ReadMarker      = (*Provider)(nil)
	_ providers.TypingIndicator = (*Provider)(nil)
	_ providers.MediaUploader   = (*Provider)(nil)
)

// New returns a Provider. Call Start to run the inbox processor.
func New(p Params) (*Provider, error) {
	if p.Store == nil || p.Box == nil || p.Events == nil {
		return nil, errors.New("meta: Store, Box and Events are required")
	}
	if p.Logger == nil {
		p.Logger = slog.New(slog.DiscardHandler)
	}
	if p.NowFunc == nil {
		p.NowFunc = time.Now
	}
	if p.PollInterval <= 0 {
		p.PollInterval = DefaultPollInterval
	}
	if p.VerifyRetryBase <= 0 {
		p.VerifyRetryBase = DefaultVerifyRetryBase
	}
	if p.VerifyRetryLimit <= 0 {
		p.VerifyRetryLimit = DefaultVerifyRetryLimit
	}
	if p.RouteCacheTTL <= 0 {
		p.RouteCacheTTL = DefaultRouteCacheTTL
	}
	if p.WebhookMaxBytes == 0 {
		p.WebhookMaxBytes = MaxWebhookBytes
	}
	if p.WebhookMaxBytes < MinWebhookBytes {
		return nil, fmt.Errorf("meta: WebhookMaxBytes %d is below Meta's 3 MB batches (minimum %d)", p.WebhookMaxBytes, MinWebhookBytes)
	}
	base, cancel := context.WithCancel(context.Background())
	pr := &Provider{
		client:   NewClient(p.Client),
		store:    &store{db: p.Store, box: p.Box, events: p.Events},
		events:   p.Events,
		media:    p.Media,
		log:      p.Logger.With("component", "provider.meta"),
		now:      p.NowFunc,
		params:   p,
		base:     base,
		cancel:   cancel,
		wg:       &sync.WaitGroup{},
		verifies: map[string]*verifyJob{},
		wake:     make(chan struct{}, 1),
		tracer:   otel.Tracer("github.com/zapbase/zapbase/providers/meta"),

		webhookMax: p.WebhookMaxBytes,
	}
	pr.routes = newRouteCache(p.RouteCacheTTL, pr.store)
	pr.inbox = newInboxWriter(p.Store)
	return pr, nil
}

// WebhookMaxBytes is the body limit of the webhook handler: mount it with
// this limit (api.Mount.BodyLimit) so the server's default does not win.
func (p *Provider) WebhookMaxBytes() int64 { return p.webhookMax }

// UnroutedWebhooks counts the deliveries this process acknowledged without
// processing because they named no known number or WABA.
func (p *Provider) UnroutedWebhooks() int64 { return p.unroutedCount.Load() }

// Type implements providers.Provider.
func (p *Provider) Type() zapbase.ProviderType { return zapbase.ProviderMeta }

// Capabilities implements providers.Provider. Meta assigns message ids, so
// CallerMessageIDs is false: a timed-out send is ambiguous.
func (p *Provider) Capabilities() providers.Capabilities {
	return providers.Capabilities{
		MessageTypes: []zapbase.MessageType{
			zapbase.MessageText, zapbase.MessageImage, zapbase.MessageVideo, zapbase.MessageAudio,
			zapbase.MessageVoice, zapbase.MessageDocument, zapbase.MessageSticker, zapbase.MessageLocation,
			zapbase.MessageContacts, zapbase.MessageTemplate, zapbase.MessageInteractive,
			zapbase.MessageReaction, zapbase.MessageReadMark,
		},
		CallerMessageIDs: false,
		ReadReceipts:     true,
		Typing:           true,
		ServiceWindow:    true,
		MaxMediaBytes:    MaxMediaBytes,
	}
}

// Start runs the inbox processor and resumes verifications interrupted by a
// restart (sessions left in connecting/unreachable). Cancelling ctx stops the
// inbox processor; Stop also ends verifications. Start on a running
// provider is a no-op.
func (p *Provider) Start(ctx context.Context) error {
	ctx, shouldStart, started, stopped := p.StartInit(ctx)
	if !shouldStart {
		return nil
	}
	pending, err := p.pendingVerifications(ctx)
	if err != nil {
		interrupted := startstop.Interrupted(ctx)
		stopped()
		if interrupted {
			return nil // a concurrent Stop cut Start short
		}
		return err
	}
	p.mu.Lock()
	if p.stopped { // started again after a Stop
		p.stopped = false
		p.base, p.cancel = context.WithCancel(context.Background())
		p.wg = &sync.WaitGroup{}
	}
	for _, id := range pending {
		p.startVerifyLocked(id)
	}
	p.mu.Unlock()
	go func() {
		started()
		defer stopped()
		p.runInbox(ctx)
	}()
	return nil
}

func (p *Provider) pendingVerifications(ctx context.Context) ([]string, error) {
	ids, err := p.store.db.PendingVerifications(ctx)
	if err != nil {
		return nil, fmt.Errorf("meta: %w", err)
	}
	return ids, nil
}

// Stop cancels background work and waits for it. Idempotent.
func (p *Provider) Stop() {
	p.BaseStartStop.Stop()
	p.mu.Lock()
	p.stopped = true
	p.cancel()
	wg := p.wg
	p.mu.Unlock()
	wg.Wait()
}

// Initialize implements providers.SessionManager. Options carry
// {"phoneNumberId","wabaId","accessToken","appSecret","verifyToken"}. The
// session is stored at once (webhooks for the number are accepted from
// then on) in state connecting; the number is verified against the Graph
// API in the background, which sets the final state.
func (p *Provider) Initialize(ctx context.Context, in providers.InitializeParams) (providers.SessionState, error) {
	var c Credentials
	if len(in.Options) == 0 {
		return providers.SessionState{}, zapbase.Errorf(zapbase.CodeInvalidInput, "as credenciais da Meta (meta) são obrigatórias")
	}
	if err := json.Unmarshal(in.Options, &c); err != nil {
		return providers.SessionState{}, zapbase.Errorf(zapbase.CodeInvalidInput, "credenciais da Meta em formato inválido")
	}
	if err := c.validate(); err != nil {
		return providers.SessionState{}, err
	}
	if in.SessionID == "" || in.TenantID == "" {
		return providers.SessionState{}, errors.New("meta: initialize needs tenant and session ids")
	}
	if err := p.store.saveSession(ctx, in, c); err != nil {
		return providers.SessionState{}, fmt.Errorf("initialize meta session: %w", err)
	}
	p.routes.clear()
	p.log.Info("meta session stored, verifying in background", "tenant_id", in.TenantID,
		"session_id", in.SessionID, "phone_number_id", c.PhoneNumberID)
	p.mu.Lock()
	p.startVerifyLocked(in.SessionID)
	p.mu.Unlock()
	return providers.SessionState{State: providers.StateConnecting}, nil
}

// Status implements providers.SessionManager.
func (p *Provider) Status(ctx context.Context, sessionID string) (providers.SessionState, error) {
	s, err := p.store.db.SessionStatus(ctx, sessionID)
	if err != nil {
		return s, fmt.Errorf("meta session status: %w", zapbase.Errorf(zapbase.CodeNotFound, "sessão Meta não encontrada"))
	}
	return s, nil
}

// Disconnect implements providers.SessionManager. Meta has no connection to
// close: disconnect stops sends (webhooks are still recorded); logout also
// forgets the credentials and the webhook route.
func (p *Provider) Disconnect(ctx context.Context, sessionID string, logout bool) error {
	p.mu.Lock()
	if job, ok := p.verifies[sessionID]; ok {
		job.cancel()
	}
	p.mu.Unlock()
	state := providers.StateDisconnected
	if logout {
		if err := p.store.forget(ctx, sessionID); err != nil {
			return err
		}
		state = providers.StateLoggedOut
	}
	p.routes.clear()
	return p.events.SessionState(ctx, sessionID, providers.SessionState{State: state})
}

// verifyJob is one running background verification.
type verifyJob struct{ cancel context.CancelFunc }

// startVerifyLocked runs the background verification of a session,
// replacing one already running. p.mu must be held.
func (p *Provider) startVerifyLocked(sessionID string) {
	if p.stopped {
		return
	}
	if job, ok := p.verifies[sessionID]; ok {
		job.cancel()
	}
	ctx, cancel := context.WithCancel(p.base)
	job := &verifyJob{cancel: cancel}
	p.verifies[sessionID] = job
	wg := p.wg
	wg.Add(1)
	go func() {
		defer wg.Done()
		defer cancel()
		p.verify(ctx, sessionID)
		p.mu.Lock()
		// Only remove our own entry (a newer Initialize may have replaced it).
		if p.verifies[sessionID] == job {
			delete(p.verifies, sessionID)
		}
		p.mu.Unlock()
	}()
}

// verify asks the Graph API for the number until it answers; an
// unreachable API is a state (unreachable), retried with capped backoff.
func (p *Provider) verify(ctx context.Context, sessionID string) {
	policy := backoff.Policy{Base: p.params.VerifyRetryBase, Max: p.params.VerifyRetryLimit}
	for attempt := 1; ; attempt++ {
		st, retry := p.verifyOnce(ctx, sessionID)
		if ctx.Err() != nil {
			return
		}
		// Persist with a fresh context so a shutdown mid-write still lands.
		wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		if err := p.events.SessionState(wctx, sessionID, st); err != nil {
			p.log.Error("persist meta session state", "session_id", sessionID, "state", st.State, "error", err)
		}
		cancel()
		if !retry {
			return
		}
		wait := policy.Delay(attempt)
		p.log.Warn("graph api unreachable, retrying verification", "session_id", sessionID,
			"attempt", attempt, "delay", wait.String())
		if !backoff.Sleep(ctx, wait) {
			return
		}
	}
}

func (p *Provider) verifyOnce(ctx context.Context, sessionID string) (providers.SessionState, bool) {
	sess, err := p.store.session(ctx, sessionID)
	if err != nil || sess.Creds == nil {
		return providers.SessionState{State: providers.StateLoggedOut, Reason: "credenciais da Meta ausentes"}, false
	}
	info, err := p.client.getPhoneNumber(ctx, sess.Creds.PhoneNumberID, sess.Creds.AccessToken)
	if err != nil {
		cls := Classify(err, 1, false)
		var auth *providers.AuthLostError
		var blocked *providers.SessionUnavailableError
		var perm *providers.PermanentError
		switch {
		case errors.As(cls, &auth):
			return providers.SessionState{State: providers.StateAuthLost, Reason: auth.Reason}, false
		case errors.As(cls, &blocked):
			return providers.SessionState{State: providers.StateBlocked, Reason: reasonOf(err)}, false
		case errors.As(cls, &perm):
			return providers.SessionState{State: providers.StatePairingFailed,
				Reason: "a Meta não reconheceu o phoneNumberId com este token: " + perm.Reason}, false
		default:
			return providers.SessionState{State: providers.StateUnreachable,
				Reason: "não foi possível falar com a API da Meta; nova tentativa em instantes"}, true
		}
	}
	if info.DisplayPhoneNumber != "" && !samePhone(info.DisplayPhoneNumber, sess.PhoneNumber) {
		return providers.SessionState{State: providers.StatePairingFailed,
			Reason: fmt.Sprintf("o phoneNumberId pertence ao número %s, não a %s", normalizePhone(info.DisplayPhoneNumber), sess.PhoneNumber)}, false
	}
	return providers.SessionState{State: providers.StateConnected}, false
}

func samePhone(a, b string) bool {
	for _, x := range phoneVariants(a) {
		for _, y := range phoneVariants(b) {
			if x == y {
				return true
			}
		}
	}
	return false
}

func reasonOf(err error) string {
	var ge *GraphError
	if errors.As(err, &ge) {
		return Reason(ge.Code)
	}
	return "erro da API da Meta"
}

// WindowOpen reports whether free-form messages may be sent to a contact
// (within ServiceWindow of their last message) and when the window closes.
func (p *Provider) WindowOpen(ctx context.Context, tenantID, sessionID, to string) (bool, time.Time, error) {
	last, err := p.store.lastInbound(ctx, tenantID, sessionID, to)
	if err != nil || last.IsZero() {
		return false, time.Time{}, err
	}
	closes := last.Add(ServiceWindow)
	return p.now().Before(closes), closes, nil
}

// usableSession loads a session for sending and refuses states that
// cannot send.
// tenantID, when given, must own the session.
func (p *Provider) usableSession(ctx context.Context, tenantID, sessionID string) (*sessionRow, error) {
	sess, err := p.store.session(ctx, sessionID)
	if err == nil && tenantID != "" && sess.TenantID != tenantID {
		err = zapbase.Errorf(zapbase.CodeNotFound, "sessão Meta não encontrada")
	}
	if err != nil {
		if zapbase.ErrorCode(err) == zapbase.CodeNotFound {
			return nil, &providers.SessionUnavailableError{State: providers.StateLoggedOut, Err: err}
		}
		return nil, &providers.RetryableError{Err: err}
	}
	if sess.Creds == nil {
		return nil, &providers.SessionUnavailableError{State: providers.StateLoggedOut,
			Err: zapbase.Errorf(zapbase.CodeSessionUnavailable, "a sessão Meta não tem credenciais: configure-a novamente")}
	}
	switch sess.State {
	case providers.StateAuthLost:
		return nil, &providers.AuthLostError{Code: "190", Reason: reasons[190],
			Err: zapbase.Errorf(zapbase.CodeAuthLost, "%s", reasons[190])}
	case providers.StateBlocked:
		// A restriction with an end (account_update ACCOUNT_RESTRICTION)
		// lifts by itself: past state_until the number sends again.
		if sess.Until != nil && !p.now().Before(*sess.Until) {
			return sess, nil
		}
		su := &providers.SessionUnavailableError{State: sess.State,
			Err: zapbase.Errorf(zapbase.CodeSessionUnavailable, "a sessão Meta está em estado %s", sess.State)}
		if sess.Until != nil {
			su.Until = *sess.Until
		}
		return nil, su
	case providers.StateBanned, providers.StateDisconnected, providers.StateLoggedOut, providers.StatePairingFailed:
		return nil, &providers.SessionUnavailableError{State: sess.State,
			Err: zapbase.Errorf(zapbase.CodeSessionUnavailable, "a sessão Meta está em estado %s", sess.State)}
	}
	return sess, nil
}

// Send implements providers.Provider.
func (p *Provider) Send(ctx context.Context, msg providers.OutboundMessage) (providers.SendResult, error) {
	sess, err := p.usableSession(ctx, msg.TenantID, msg.SessionID)
	if err != nil {
		return providers.SendResult{}, err
	}
	if msg.Type == zapbase.MessageReadMark {
		ids := []string{msg.Content.TargetMessageID}
		if msg.Content.TargetMessageID == "" {
			return providers.SendResult{}, invalid("a marcação de leitura precisa de targetMessageId")
		}
		err := p.MarkRead(ctx, providers.MarkReadParams{TenantID: msg.TenantID, SessionID: msg.SessionID, ProviderMessageIDs: ids})
		return providers.SendResult{Timestamp: p.now()}, err
	}
	// Send to the number Meta's wa_id showed for this contact (Brazil's
	// ninth digit): the answer of an earlier send or the contact's webhook.
	if waID, err := p.store.canonicalWaID(ctx, sess.TenantID, sess.SessionID, msg.To); err != nil {
		p.log.Warn("look up canonical wa_id", "tenant_id", sess.TenantID, "error", err)
	} else if waID != "" {
		msg.To = waID
	}
	body, err := buildMessage(msg)
	if err != nil {
		return providers.SendResult{}, err
	}
	if msg.Type == zapbase.MessageTemplate {
		if err := p.checkTemplate(ctx, sess, msg); err != nil {
			return providers.SendResult{}, err
		}
	} else if !isGroupID(msg.To) {
		// Groups have no 1:1 customer-service window.
		open, _, err := p.WindowOpen(ctx, sess.TenantID, sess.SessionID, msg.To)
		if err != nil {
			return providers.SendResult{}, &providers.RetryableError{Err: err}
		}
		if !open {
			e := zapbase.Errorf(zapbase.CodeTemplateRequired,
				"fora da janela de atendimento de 24 horas (o contato não escreveu nas últimas 24 horas): envie um modelo (template) aprovado")
			return providers.SendResult{}, &providers.PermanentError{Code: string(zapbase.CodeTemplateRequired), Reason: e.Message, Err: e}
		}
	}
	resp, err := p.client.postMessages(ctx, sess.Creds.PhoneNumberID, sess.Creds.AccessToken, body)
	if err != nil {
		cls := Classify(err, msg.Attempt, true)
		p.afterSendError(ctx, sess, cls)
		p.log.Warn("meta send failed", "tenant_id", sess.TenantID, "session_id", sess.SessionID,
			"row_id", msg.RowID, "error", err.Error())
		return providers.SendResult{}, fmt.Errorf("send message %s: %w", msg.RowID, cls)
	}
	if len(resp.Messages) == 0 || resp.Messages[0].ID == "" {
		return providers.SendResult{}, &providers.AmbiguousError{Err: errors.New("graph api answered 200 without a message id")}
	}
	res := providers.SendResult{ProviderMessageID: resp.Messages[0].ID, Timestamp: p.now()}
	if isGroupID(msg.To) {
		// A group is the chat, not a contact: nothing to link.
		res.RecipientID = msg.To
	} else if len(resp.Contacts) > 0 {
		// Key the contact on wa_id, not on the input (Brazil's ninth digit).
		id := contactIdentity{WaID: resp.Contacts[0].WaID, BSUID: resp.Contacts[0].UserID}
		if id.BSUID == "" && isBSUID(msg.To) {
			id.BSUID = msg.To
		}
		res.RecipientID = id.WaID
		if res.RecipientID == "" {
			res.RecipientID = id.BSUID
		}
		if err := p.store.linkContact(ctx, sess.TenantID, sess.SessionID, id); err != nil {
			p.log.Warn("link contact after send", "tenant_id", sess.TenantID, "error", err)
		}
	}
	if st := resp.Messages[0].MessageStatus; st != "" && st != "accepted" {
		p.log.Info("meta template send paced", "tenant_id", sess.TenantID, "row_id", msg.RowID, "message_status", st)
	}
	return res, nil
}

// checkTemplate refuses, before Meta is called, a template that Meta told
// us (webhooks) is paused or disabled, and a marketing template to a
// customer who stopped marketing messages (user_preferences, or an earlier
// 131050). What is unknown is sent: Meta stays the judge.
func (p *Provider) checkTemplate(ctx context.Context, sess *sessionRow, msg providers.OutboundMessage) error {
	t := msg.Content.Template
	if t == nil || sess.Creds.WABAID == "" {
		return nil
	}
	info, err := p.store.templateState(ctx, sess.Creds.WABAID, t.Name, t.Language)
	if err != nil {
		return &providers.RetryableError{Err: err}
	}
	if info == nil {
		return nil
	}
	refuse := func(code zapbase.Code, format string, args ...any) error {
		e := zapbase.Errorf(code, format, args...)
		return &providers.PermanentError{Code: string(code), Reason: e.Message, Err: e}
	}
	detail := ""
	if info.Reason != "" {
		detail = " (Meta: " + info.Reason + ")"
	}
	switch info.Status {
	case "PAUSED":
		return refuse(zapbase.CodeTemplatePaused,
			"o modelo %q (%s) está pausado pela Meta por baixa qualidade%s: edite o modelo ou aguarde a pausa terminar", t.Name, t.Language, detail)
	case "DISABLED", "REJECTED", "DELETED", "PENDING_DELETION", "ARCHIVED":
		return refuse(zapbase.CodeTemplateDisabled,
			"o modelo %q (%s) não pode ser enviado: a Meta informou o estado %s%s", t.Name, t.Language, info.Status, detail)
	}
	if info.Category == "MARKETING" && !isGroupID(msg.To) {
		out, err := p.store.marketingOptedOut(ctx, sess.TenantID, sess.SessionID, msg.To)
		if err != nil {
			return &providers.RetryableError{Err: err}
		}
		if out {
			return refuse(zapbase.CodeMarketingOptedOut,
				"o contato pediu para não receber mensagens de marketing: o modelo de marketing %q não foi enviado", t.Name)
		}
	}
	return nil
}

// afterSendError persists session states implied by an error: a dead token
// (auth_lost) or an account block stop every send of the number.
func (p *Provider) afterSendError(ctx context.Context, sess *sessionRow, cls error) {
	var st *providers.SessionState
	var auth *providers.AuthLostError
	var blocked *providers.SessionUnavailableError
	switch {
	case errors.As(cls, &auth):
		st = &providers.SessionState{State: providers.StateAuthLost, Reason: auth.Reason}
	case errors.As(cls, &blocked) && blocked.State == providers.StateBlocked:
		st = &providers.SessionState{State: providers.StateBlocked, Reason: reasonOf(cls)}
	}
	if st == nil {
		return
	}
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := p.events.SessionState(wctx, sess.SessionID, *st); err != nil {
		p.log.Error("persist meta session state", "tenant_id", sess.TenantID, "session_id", sess.SessionID, "error", err)
		return
	}
	p.log.Warn("meta session stopped", "tenant_id", sess.TenantID, "session_id", sess.SessionID, "state", st.State)
}

// MarkRead implements providers.ReadMarker (Meta marks earlier messages of
// the chat read too). With Typing, the typing indicator rides on the last id.
func (p *Provider) MarkRead(ctx context.Context, mp providers.MarkReadParams) error {
	sess, err := p.usableSession(ctx, mp.TenantID, mp.SessionID)
	if err != nil {
		return err
	}
	for i, id := range mp.ProviderMessageIDs {
		body := map[string]any{"messaging_product": "whatsapp", "status": "read", "message_id": id}
		if mp.Typing && i == len(mp.ProviderMessageIDs)-1 {
			body["typing_indicator"] = map[string]any{"type": "text"}
		}
		if _, err := p.client.postMessages(ctx, sess.Creds.PhoneNumberID, sess.Creds.AccessToken, body); err != nil {
			cls := Classify(err, 1, false)
			p.afterSendError(ctx, sess, cls)
			return fmt.Errorf("mark read %s: %w", id, cls)
		}
	}
	return nil
}

// SetTyping implements providers.TypingIndicator. Meta shows "typing…" only
// together with a mark-read of the contact's last message, and hides it by
// itself (25 s or the next message), so typing=false is a no-op.
func (p *Provider) SetTyping(ctx context.Context, sessionID, to string, typing bool) error {
	if !typing {
		return nil
	}
	sess, err := p.usableSession(ctx, "", sessionID)
	if err != nil {
		return err
	}
	id, err := p.store.lastInboundMessageID(ctx, sess.TenantID, sessionID, to)
	if err != nil {
		return err
	}
	if id == "" {
		return zapbase.Errorf(zapbase.CodeInvalidInput, "a Meta só mostra \"digitando…\" em resposta a uma mensagem recebida deste contato")
	}
	return p.MarkRead(ctx, providers.MarkReadParams{TenantID: sess.TenantID, SessionID: sessionID,
		ProviderMessageIDs: []string{id}, Typing: true})
}

// mediaLimits are Meta's upload limits by MIME type.
var mediaLimits = map[string]int64{
	"audio/aac": 16 << 20, "audio/amr": 16 << 20, "audio/mpeg": 16 << 20, "audio/mp4": 16 << 20, "audio/ogg": 16 << 20,
	"text/plain": 100 << 20, "application/pdf": 100 << 20, "application/msword": 100 << 20,
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document": 100 << 20,
	"application/vnd.ms-excel": 100 << 20,
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":         100 << 20,
	"application/vnd.ms-powerpoint":                                             100 << 20,
	"application/vnd.openxmlformats-officedocument.presentationml.presentation": 100 << 20,
	"image/jpeg": 5 << 20, "image/png": 5 << 20,
	"image/webp": 500 << 10,
	"video/mp4":  16 << 20, "video/3gpp": 16 << 20,
}

// UploadMedia implements providers.MediaUploader (POST /{phone-number-id}/media).
// The media id is usable for 30 days.
func (p *Provider) UploadMedia(ctx context.Context, sessionID, mimeType string, data []byte) (string, error) {
	return p.UploadMediaStream(ctx, sessionID, mimeType, bytes.NewReader(data), int64(len(data)))
}

// UploadMediaStream uploads media read from r (size bytes) without holding
// it in memory: the multipart body is streamed to Meta under a deadline
// scaled to size.
func (p *Provider) UploadMediaStream(ctx context.Context, sessionID, mimeType string, r io.Reader, size int64) (string, error) {
	base := mimeBase(mimeType)
	limit, ok := mediaLimits[base]
	if !ok {
		return "", invalid("tipo de mídia %q não é aceito pela Meta", mimeType)
	}
	if size <= 0 {
		return "", invalid("o arquivo de mídia está vazio")
	}
	if size > limit {
		return "", invalid("o arquivo tem %d bytes; o limite da Meta para %s é %d bytes", size, base, limit)
	}
	sess, err := p.usableSession(ctx, "", sessionID)
	if err != nil {
		return "", err
	}
	id, err := p.client.uploadMedia(ctx, sess.Creds.PhoneNumberID, sess.Creds.AccessToken, mimeType,
		"upload"+extensionFor(base), io.LimitReader(r, limit), size)
	if err != nil {
		cls := Classify(err, 1, false)
		p.afterSendError(ctx, sess, cls)
		return "", fmt.Errorf("upload media: %w", cls)
	}
	return id, nil
}

// codeString formats a Meta error code for storage.
func codeString(code int) string { return strconv.Itoa(code) }
