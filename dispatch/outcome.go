package dispatch

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"time"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/backoff"
	"github.com/zapbase/zapbase/providers"
)

// outcome is the status write that ends a claim. Many are flushed in one
// UPDATE.
type outcome struct {
	id     string
	status zapbase.Status // pending, sent or failed
	// Optional columns (nil: unchanged).
	messageID, provider, sessionID, from *string
	// errorCode/errorReason are written as given (nil clears them).
	errorCode, errorReason *string
	nextAttemptAt          *time.Time
	// sentAt is when the provider accepted the message (status sent).
	sentAt *time.Time
	// sentTo is the channel's id of the recipient the message actually went
	// to (Meta's wa_id, the JID WhatsApp Web resolved: Brazil's ninth
	// digit, a LID), stored in metadata.sentTo when it differs from to.
	sentTo *string
	// refund gives the claim's attempt back (the message was not sent).
	refund bool
}

func failOutcome(id, code, reason string) *outcome {
	return &outcome{id: id, status: zapbase.StatusFailed, errorCode: ptr(code), errorReason: ptr(reason)}
}

// releaseOutcome puts a row back to pending at `at` without counting the
// attempt (it was not sent).
func releaseOutcome(id string, at time.Time, code, reason string) *outcome {
	o := &outcome{id: id, status: zapbase.StatusPending, nextAttemptAt: &at, refund: true}
	if code != "" {
		o.errorCode, o.errorReason = &code, &reason
	}
	return o
}

// decision is what a send's result means for the row and for pacing.
type decision struct {
	out *outcome
	// deferUntil: later messages of the same chat wait at least until then
	// (order is kept per chat).
	deferUntil time.Time
	// block pacing scopes until a time.
	blockScope providers.RateLimitScope
	blockUntil time.Time
	// authLost: persist the session state.
	authLost *providers.AuthLostError
}

// decide maps a send result to the row's next state. Classified errors are
// told apart with errors.As, never by text; the most specific meaning wins
// (ambiguous, then permanent, auth lost, session unavailable, rate limited,
// retryable). Unclassified errors are treated as retryable.
func (d *Dispatcher) decide(j *job, res providers.SendResult, err error, now time.Time) decision {
	if err == nil {
		mid := res.ProviderMessageID
		if mid == "" {
			mid = j.messageID
		}
		at := res.Timestamp
		if at.IsZero() {
			at = now
		}
		o := &outcome{id: j.id, status: zapbase.StatusSent, sentAt: &at}
		if res.RecipientID != "" && res.RecipientID != j.to {
			o.sentTo = &res.RecipientID
		}
		if mid != "" {
			o.messageID = &mid
		}
		return decision{out: o}
	}
	var (
		pe *providers.PermanentError
		al *providers.AuthLostError
		su *providers.SessionUnavailableError
		rl *providers.RateLimitedError
		re *providers.RetryableError
	)
	// The class decides (providers.ClassOf: the same precedence everywhere);
	// errors.As then reads the class's fields.
	switch providers.ClassOf(err) {
	case providers.ClassAmbiguous:
		return decision{out: failOutcome(j.id, string(zapbase.CodeAmbiguousSend),
			"O provedor não confirmou o envio a tempo; a mensagem pode ter sido entregue e não será reenviada automaticamente para evitar duplicidade.")}
	case providers.ClassPermanent:
		errors.As(err, &pe)
		code, reason := pe.Code, pe.Reason
		if errors.Is(err, providers.ErrUnsupported) && code == "" {
			code = string(zapbase.CodeUnsupported)
		}
		if code == "" {
			code = string(zapbase.CodeProviderRejected)
		}
		if reason == "" {
			reason = "O provedor recusou a mensagem."
		}
		return decision{out: failOutcome(j.id, code, reason)}
	case providers.ClassAuthLost:
		errors.As(err, &al)
		until := now.Add(d.cfg.AuthLostDelay)
		reason := al.Reason
		if reason == "" {
			reason = "A sessão de WhatsApp perdeu a autenticação; reconecte o número para retomar os envios."
		}
		return decision{
			out:        releaseOutcome(j.id, until, string(zapbase.CodeAuthLost), reason),
			deferUntil: until, blockScope: providers.ScopeNumber, blockUntil: until, authLost: al,
		}
	case providers.ClassSessionUnavailable:
		errors.As(err, &su)
		until := su.Until
		if until.Before(now) {
			until = now.Add(d.cfg.SessionRetryDelay)
		}
		if now.Sub(j.createdAt) >= d.cfg.SessionWaitMax {
			return decision{out: failOutcome(j.id, string(zapbase.CodeSessionUnavailable),
				fmt.Sprintf("Nenhuma sessão de WhatsApp ficou disponível a tempo (estado: %s); a mensagem não foi enviada.", su.State))}
		}
		return decision{
			out: releaseOutcome(j.id, until, string(zapbase.CodeSessionUnavailable),
				fmt.Sprintf("Sessão de WhatsApp indisponível (estado: %s); nova tentativa em breve.", su.State)),
			deferUntil: until, blockScope: providers.ScopeNumber, blockUntil: until,
		}
	case providers.ClassRateLimited:
		errors.As(err, &rl)
		after := rl.After
		if after <= 0 {
			after = d.backoff(1)
		}
		until := now.Add(after)
		scope := rl.Scope
		if scope == "" {
			scope = providers.ScopeNumber
		}
		// The channel refused before sending: the attempt is given back.
		return decision{
			out: releaseOutcome(j.id, until, string(zapbase.CodeRateLimited),
				"Limite de envio do WhatsApp atingido; a mensagem será reenviada automaticamente."),
			deferUntil: until, blockScope: scope, blockUntil: until,
		}
	}
	after := time.Duration(0)
	if errors.As(err, &re) {
		after = re.After
	} else {
		d.log.Warn("unclassified provider error, retrying", "tenant_id", j.tenantID, "message_row_id", j.id,
			"provider", string(j.ptype), "error", err)
	}
	if j.attempts >= d.cfg.MaxAttempts {
		return decision{out: failOutcome(j.id, string(zapbase.CodeRetriesExhausted),
			fmt.Sprintf("Não foi possível enviar a mensagem após %d tentativas.", j.attempts))}
	}
	if after <= 0 {
		after = d.backoff(j.attempts)
	}
	until := now.Add(after)
	return decision{
		out: &outcome{id: j.id, status: zapbase.StatusPending, nextAttemptAt: &until,
			errorCode:   ptr(string(zapbase.CodeProviderUnavailable)),
			errorReason: ptr("Falha temporária no provedor; nova tentativa agendada.")},
		deferUntil: until,
	}
}

// backoff is base·2^(attempt-1) capped at BackoffMax, with ±20% jitter.
func (d *Dispatcher) backoff(attempt int) time.Duration {
	// The shared exponential ceiling (package backoff), with ±20% jitter
	// rather than full jitter: a retried message holds its chat's later
	// messages, so a near-zero delay would just retry into the same fault.
	ceiling := backoff.Policy{Base: d.cfg.BackoffBase, Max: d.cfg.BackoffMax}.Ceiling(max(attempt, 1))
	return time.Duration(float64(ceiling) * (0.8 + 0.4*rand.Float64()))
}
