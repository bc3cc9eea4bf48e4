package ai

import "time"

// Observer receives the runtime's measurements. *metrics.Metrics implements
// it (the series are defined once, in the metrics catalog, and served on
// /metrics); nil records nothing. Tenant and agent are UUIDs; the
// implementation bounds label cardinality.
type Observer interface {
	// AIModelCall records one model call (one step of a turn): result is
	// "ok" or the error kind (ErrKind*).
	AIModelCall(tenant, backend, result string, d time.Duration)
	// AITokens adds the tokens one model call used.
	AITokens(tenant, agent, backend string, input, output int)
	// AIToolCall counts one tool call requested by a model.
	AIToolCall(tenant, agent, tool string, ok bool)
	// AITurn counts one turn by outcome (Outcome*).
	AITurn(tenant, agent, outcome string)
	// AIResponse records the response time of a turn that answered (start
	// of the turn to the committed reply row).
	AIResponse(tenant string, d time.Duration)
}

// nopObserver records nothing.
type nopObserver struct{}

func (nopObserver) AIModelCall(string, string, string, time.Duration) {}
func (nopObserver) AITokens(string, string, string, int, int)         {}
func (nopObserver) AIToolCall(string, string, string, bool)           {}
func (nopObserver) AITurn(string, string, string)                     {}
func (nopObserver) AIResponse(string, time.Duration)                  {}

func observerOrNop(o Observer) Observer {
	if o == nil {
		return nopObserver{}
	}
	return o
}
