package store

// The outgoing webhooks (migration 000111): subscriptions of a tenant, the
// fan-out's cursor over wa.change_log and the delivery queue.

// WebhookSubscriptionQuery runs the statements over wa.webhook_subscriptions.
type WebhookSubscriptionQuery struct{ db DB }

// WebhookSubscriptions returns the queries over wa.webhook_subscriptions.
func (s *Store) WebhookSubscriptions() WebhookSubscriptionQuery {
	return WebhookSubscriptionQuery{s.db}
}
