package store

// Temporary declaration (store-rest branch): the api helper owns
// store/webhooks.go; the merge keeps theirs and drops this file.

type WebhookSubscriptionQuery struct{ db DB }

func (s *Store) WebhookSubscriptions() WebhookSubscriptionQuery {
	return WebhookSubscriptionQuery{s.db}
}
