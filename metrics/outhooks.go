package metrics

// Outgoing webhooks (issue 21): results of delivery attempts (label result
// of zapbase_outgoing_webhook_attempts_total), the same strings as
// webhooks.Attempt*.
const (
	OutgoingWebhookDelivered = "delivered"
	OutgoingWebhookRetry     = "retry"
	OutgoingWebhookDead      = "dead"
	OutgoingWebhookGone      = "gone"
)

var (
	allowedOutgoingWebhookResults = []string{OutgoingWebhookDelivered, OutgoingWebhookRetry, OutgoingWebhookDead, OutgoingWebhookGone}

	defOutgoingWebhookAttempts = Definition{"zapbase_outgoing_webhook_attempts_total", KindCounter, SourceEvent,
		"Outgoing webhook delivery attempts by result: delivered (2xx), retry (failed, will be tried again), dead (failed past its retry window: dead-lettered), gone (410: subscription disabled).",
		[]string{"result"}}
)

// WebhookAttempt counts one outgoing webhook attempt by result
// (OutgoingWebhook* constants).
func (m *Metrics) WebhookAttempt(result string) {
	if m == nil {
		return
	}
	m.outgoingWebhooks.WithLabelValues(bound(result, allowedOutgoingWebhookResults)).Inc()
}
