package store

// The outgoing webhooks (migration 000111): subscriptions of a tenant, the
// fan-out's cursor over wa.change_log and the delivery queue.

// WebhookSubscriptionQuery runs the statements over wa.webhook_subscriptions.
type WebhookSubscriptionQuery struct{ db DB }

// WebhookSubscriptions returns the queries over wa.webhook_subscriptions.
func (s *Store) WebhookSubscriptions() WebhookSubscriptionQuery {
	return WebhookSubscriptionQuery{s.db}
}

// WebhookCursorQuery runs the statements over wa.webhook_cursor.
type WebhookCursorQuery struct{ db DB }

// WebhookCursor returns the queries over wa.webhook_cursor.
func (s *Store) WebhookCursor() WebhookCursorQuery { return WebhookCursorQuery{s.db} }

// WebhookDeliveryQuery runs the statements over wa.webhook_deliveries.
type WebhookDeliveryQuery struct{ db DB }

// WebhookDeliveries returns the queries over wa.webhook_deliveries.
func (s *Store) WebhookDeliveries() WebhookDeliveryQuery { return WebhookDeliveryQuery{s.db} }
