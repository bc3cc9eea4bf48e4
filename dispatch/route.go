package dispatch

import (
	"encoding/json"
	"fmt"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
)

// job is a claimed row on its way to a provider.
type job struct {
	id, tenantID, sessionID string
	to, from                string
	msgType                 zapbase.MessageType
	content                 providers.Content
	ptype                   zapbase.ProviderType
	provider                providers.Provider
	messageID               string
	attempts                int
	createdAt, claimExpires time.Time
	// seq is the row's insertion position: the chat queue's order.
	seq int64
	// numberRate and tenantRate are the pacing limits (0: unlimited).
	numberRate, tenantRate float64
	// traceparent is the row's origin; claimSpan the span that claimed it.
	traceparent string
	claimSpan   trace.SpanContext
}

// chatKey orders sends: one chat is one session talking to one recipient.
func (j *job) chatKey() string { return j.tenantID + "|" + j.sessionID + "|" + j.to }

// decisionRoute is what routing decided for a candidate row, before the
// claim: either a session to send from (stored by the claim with the
// provider, the sending number and a provider message id) or an immediate
// outcome (a final failure, or back to pending).
type decisionRoute struct {
	// requested is the row's provider before routing (auto included).
	requested zapbase.ProviderType
	session   *sessionInfo
	provider  providers.Provider
	// messageID is a provider id generated for a row that has none
	// (providers with caller ids).
	messageID string
	// stable: a claim of this row lost in a database crash would be redone
	// with the same provider id (a stable id, or one already stored), so
	// the claim may commit asynchronously.
	stable bool
	// store: the claim writes provider, session, number and messageID.
	store   bool
	outcome *outcome
	// handoff is the session leased by another replica, when the row is
	// handed over to it.
	handoff                string
	numberRate, tenantRate float64
}

// route decides, once and in Go only, what happens to a candidate row (see
// pickSession for the choice of session).
func (d *Dispatcher) route(c candidate, t *tenantInfo, now time.Time) *decisionRoute {
	rt := &decisionRoute{requested: c.Provider}
	fail := func(code, reason string) *decisionRoute {
		rt.outcome = failOutcome(c.ID, code, reason)
		return rt
	}
	if t == nil {
		return fail(string(zapbase.CodeTenantNotFound), "A conta (tenant) desta mensagem não existe mais.")
	}
	if !t.Active {
		return fail(string(zapbase.CodeTenantInactive), "A conta (tenant) está desativada; a mensagem não foi enviada.")
	}
	if c.To == "" {
		return fail(string(zapbase.CodeInvalidInput), "Mensagem sem destinatário (to_number).")
	}
	s, o := d.pickSession(c, t, now)
	if o != nil {
		rt.outcome = o
		return rt
	}
	rt.session, rt.store = s, true
	p := d.registry.Get(s.Provider)
	rt.provider = p
	if s.Provider == zapbase.ProviderBaileys && d.cfg.LeaseHolder != "" &&
		(s.Holder == nil || *s.Holder != d.cfg.LeaseHolder || s.LeaseValid == nil || !*s.LeaseValid) {
		// Another replica drives this device: store the routing decision so
		// only the lease holder claims the row again, and hand it over.
		rel := releaseOutcome(c.ID, now, "", "")
		rel.provider, rel.sessionID = ptr(string(s.Provider)), ptr(s.ID)
		rt.outcome, rt.handoff = rel, s.ID
		return rt
	}
	caps := p.Capabilities()
	if !caps.Supports(c.Type) {
		rt.store = false
		return fail(string(zapbase.CodeUnsupported),
			fmt.Sprintf("O tipo de mensagem %q não é suportado pelo provedor %s.", c.Type, s.Provider))
	}
	if c.Recovered && !caps.CallerMessageIDs && c.Provider.Concrete() {
		// The previous owner died while this row was claimed. The provider
		// cannot deduplicate a repeated send, so we cannot know whether the
		// message left: record it instead of sending it twice.
		rt.store = false
		return fail(string(zapbase.CodeAmbiguousSend),
			"O envio foi interrompido e não é possível saber se a mensagem chegou ao WhatsApp; ela não foi reenviada para evitar duplicidade.")
	}
	switch {
	case c.MessageID != "":
		rt.stable = caps.CallerMessageIDs // stored by an earlier, durable claim
	default:
		if gen, ok := p.(providers.StableIDGenerator); ok {
			rt.messageID, rt.stable = gen.MessageIDFor(c.ID), true
		} else if gen, ok := p.(providers.IDGenerator); ok {
			rt.messageID = gen.NewMessageID()
		}
	}
	rt.numberRate, rt.tenantRate = d.rates(s, t)
	return rt
}

// newJob builds the send of a claimed row from its routing decision.
func newJob(r claimedRow, rt *decisionRoute) (*job, *outcome) {
	var content providers.Content
	if len(r.Content) > 0 {
		if err := json.Unmarshal(r.Content, &content); err != nil {
			return nil, failOutcome(r.ID, string(zapbase.CodeInvalidInput), "O conteúdo da mensagem não é um objeto JSON válido.")
		}
	}
	return &job{
		id: r.ID, tenantID: r.TenantID, sessionID: rt.session.ID, to: r.To, from: r.From,
		msgType: r.Type, content: content, ptype: rt.session.Provider, provider: rt.provider,
		messageID: r.MessageID, attempts: r.Attempts, createdAt: r.CreatedAt, claimExpires: r.ClaimExpires, seq: r.Seq,
		traceparent: r.Traceparent, numberRate: rt.numberRate, tenantRate: rt.tenantRate,
	}, nil
}

// pickSession resolves the session a row is sent from.
//
//   - session_id set: that session (it must be active and match an explicit
//     provider);
//   - provider concrete: the tenant's active sessions of that provider;
//   - provider auto: all the tenant's active sessions, the preferred
//     provider (settings.preferredProvider, else default_provider) first.
//
// Among candidates a usable (connected) session wins; with none usable the
// row waits (SessionRetryDelay, without burning an attempt) until
// SessionWaitMax after its creation, then fails session_unavailable. With
// no candidate at all it fails at once: nothing could ever send it.
func (d *Dispatcher) pickSession(r candidate, t *tenantInfo, now time.Time) (*sessionInfo, *outcome) {
	if r.SessionID != "" {
		for i := range t.Sessions {
			s := &t.Sessions[i]
			if s.ID != r.SessionID {
				continue
			}
			if r.Provider.Concrete() && r.Provider != s.Provider {
				return nil, failOutcome(r.ID, string(zapbase.CodeSessionProviderMismatch),
					fmt.Sprintf("A sessão informada é do provedor %s, mas a mensagem pede %s.", s.Provider, r.Provider))
			}
			if d.registry.Get(s.Provider) == nil {
				return nil, failOutcome(r.ID, string(zapbase.CodeProviderUnavailable),
					fmt.Sprintf("O provedor %s não está habilitado neste servidor.", s.Provider))
			}
			if !providers.Usable(s.State) {
				return nil, d.waitForSession(r, now, s.State)
			}
			return s, nil
		}
		return nil, failOutcome(r.ID, string(zapbase.CodeSessionNotFound), "A sessão de WhatsApp informada não existe ou está desativada.")
	}

	var pref zapbase.ProviderType
	if r.Provider.Concrete() {
		pref = r.Provider
	} else if t.Settings.PreferredProvider.Concrete() {
		pref = t.Settings.PreferredProvider
	} else if t.DefaultProvider.Concrete() {
		pref = t.DefaultProvider
	}
	var best *sessionInfo
	score := func(s *sessionInfo) int {
		n := 0
		if providers.Usable(s.State) {
			n += 2
		}
		if s.Provider == pref {
			n++
		}
		return n
	}
	candidates := 0
	for i := range t.Sessions {
		s := &t.Sessions[i]
		if r.Provider.Concrete() && s.Provider != r.Provider {
			continue
		}
		if d.registry.Get(s.Provider) == nil {
			continue
		}
		candidates++
		if best == nil || score(s) > score(best) {
			best = s
		}
	}
	if best == nil {
		if r.Provider.Concrete() {
			return nil, failOutcome(r.ID, string(zapbase.CodeSessionUnavailable),
				fmt.Sprintf("Nenhuma sessão de WhatsApp do provedor %s está configurada para esta conta.", r.Provider))
		}
		return nil, failOutcome(r.ID, string(zapbase.CodeSessionUnavailable),
			"Nenhuma sessão de WhatsApp está configurada para esta conta.")
	}
	if !providers.Usable(best.State) {
		return nil, d.waitForSession(r, now, best.State)
	}
	return best, nil
}

func (d *Dispatcher) waitForSession(r candidate, now time.Time, state string) *outcome {
	if now.Sub(r.CreatedAt) >= d.cfg.SessionWaitMax {
		return failOutcome(r.ID, string(zapbase.CodeSessionUnavailable),
			fmt.Sprintf("Nenhuma sessão de WhatsApp ficou disponível a tempo (estado: %s); a mensagem não foi enviada.", state))
	}
	return releaseOutcome(r.ID, now.Add(d.cfg.SessionRetryDelay), string(zapbase.CodeSessionUnavailable),
		fmt.Sprintf("Sessão de WhatsApp indisponível (estado: %s); nova tentativa em breve.", state))
}

// rates answers the pacing limits of a session: session_data wins over the
// tenant's settings, which win over the configured defaults.
func (d *Dispatcher) rates(s *sessionInfo, t *tenantInfo) (number, tenant float64) {
	number = d.cfg.NumberRates[s.Provider]
	if v := t.Settings.Dispatch.NumberMessagesPerSecond; v != nil && *v >= 0 {
		number = *v
	}
	if v := s.Data.MessagesPerSecond; v != nil && *v >= 0 {
		number = *v
	}
	tenant = d.cfg.TenantRate
	if v := t.Settings.Dispatch.MessagesPerSecond; v != nil && *v >= 0 {
		tenant = *v
	}
	return number, tenant
}

func ptr[T any](v T) *T { return &v }
