package ai

import (
	"github.com/prometheus/client_golang/prometheus"
)

// metrics are the runtime's Prometheus collectors, labelled per tenant and
// agent.
type metrics struct {
	modelLatency *prometheus.HistogramVec
	tokens       *prometheus.CounterVec
	toolCalls    *prometheus.CounterVec
	toolErrors   *prometheus.CounterVec
	modelErrors  *prometheus.CounterVec
	turns        *prometheus.CounterVec
	turnDuration *prometheus.HistogramVec
}

func newMetrics(reg prometheus.Registerer) *metrics {
	m := &metrics{
		modelLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "zapbase_ai_model_latency_seconds",
			Help:    "Latency of one model call (one step of a turn).",
			Buckets: []float64{.05, .1, .25, .5, 1, 2, 4, 8, 16, 32, 64},
		}, []string{"tenant_id", "agent_id", "backend"}),
		tokens: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zapbase_ai_tokens_total",
			Help: "Model tokens consumed, by direction (in: prompt, out: completion).",
		}, []string{"tenant_id", "agent_id", "backend", "direction"}),
		toolCalls: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zapbase_ai_tool_calls_total",
			Help: "Tool calls requested by models.",
		}, []string{"tenant_id", "agent_id", "tool"}),
		toolErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zapbase_ai_tool_errors_total",
			Help: "Tool calls that failed.",
		}, []string{"tenant_id", "agent_id", "tool"}),
		modelErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zapbase_ai_model_errors_total",
			Help: "Failed model calls, by kind (rate_limited, unavailable, auth, invalid, blocked).",
		}, []string{"tenant_id", "agent_id", "backend", "kind"}),
		turns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "zapbase_ai_turns_total",
			Help: "Agent turns by outcome (replied, handoff, paused, skipped, error …).",
		}, []string{"tenant_id", "agent_id", "outcome"}),
		turnDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "zapbase_ai_response_seconds",
			Help:    "Time from the start of a turn to the committed reply row (the spec's AI response time).",
			Buckets: []float64{.01, .05, .1, .25, .5, 1, 2, 4, 8, 16, 32, 64},
		}, []string{"tenant_id", "agent_id"}),
	}
	if reg != nil {
		for _, c := range []prometheus.Collector{m.modelLatency, m.tokens, m.toolCalls, m.toolErrors, m.modelErrors, m.turns, m.turnDuration} {
			reg.MustRegister(c)
		}
	}
	return m
}
