package dispatch

import (
	"errors"
	"time"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
)

// Observer receives what dispatch does, for metrics. Methods are called
// from send goroutines: they must be cheap and must not block.
type Observer interface {
	// SendFinished is called after every provider call.
	SendFinished(SendObservation)
	// Reconciled is called after a reconciliation claim that found rows;
	// recovered counts expired claims taken over.
	Reconciled(claimed, recovered int)
}

// SendObservation describes one provider call.
type SendObservation struct {
	TenantID string
	Provider zapbase.ProviderType
	// Result is the row's next state: "sent", "retry" (back to pending,
	// attempt counted), "deferred" (back to pending, attempt given back) or
	// "failed".
	Result string
	// ErrorClass is "" on success, else one of "retryable", "rate_limited",
	// "permanent", "auth_lost", "session_unavailable", "ambiguous",
	// "unclassified".
	ErrorClass string
	// Latency runs from the row's creation (insert) to the provider's answer.
	Latency time.Duration
}

// QueueDepth is the number of claimed messages held in memory (waiting for
// their chat, pacing or a worker, or being sent).
func (d *Dispatcher) QueueDepth() int { return d.queued() }

func errorClass(err error) string {
	if err == nil {
		return ""
	}
	var (
		am *providers.AmbiguousError
		pe *providers.PermanentError
		al *providers.AuthLostError
		su *providers.SessionUnavailableError
		rl *providers.RateLimitedError
		re *providers.RetryableError
	)
	switch {
	case errors.As(err, &am):
		return "ambiguous"
	case errors.As(err, &pe):
		return "permanent"
	case errors.As(err, &al):
		return "auth_lost"
	case errors.As(err, &su):
		return "session_unavailable"
	case errors.As(err, &rl):
		return "rate_limited"
	case errors.As(err, &re):
		return "retryable"
	}
	return "unclassified"
}

func resultOf(o *outcome) string {
	switch {
	case o.status == zapbase.StatusSent:
		return "sent"
	case o.status == zapbase.StatusFailed:
		return "failed"
	case o.refund:
		return "deferred"
	}
	return "retry"
}
