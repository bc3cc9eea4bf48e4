package supabase

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/store"
)

// ChangeFeed writes provider events that are not message rows (calls,
// presence) into the change feed wa.change_log, which SSE and outgoing
// webhooks read. It implements providers.FeedSink.
type ChangeFeed struct {
	// Store is the data layer the events go through.
	Store *store.Store
	// Pool is used (as store.New(Pool)) only when Store is nil.
	//
	// Deprecated: set Store. Kept while callers on other branches still
	// pass a pool; remove it once none does.
	Pool *pgxpool.Pool
}

func (f ChangeFeed) store() *store.Store {
	if f.Store != nil {
		return f.Store
	}
	return store.New(f.Pool)
}

var _ providers.FeedSink = ChangeFeed{}

// RecordEvent implements providers.FeedSink.
func (f ChangeFeed) RecordEvent(ctx context.Context, e providers.FeedEvent) error {
	data := e.Data
	if data == nil {
		data = map[string]any{}
	}
	b, err := json.Marshal(data)
	if err != nil {
		return fmt.Errorf("encode %s event: %w", e.Topic, err)
	}
	err = f.store().ChangeLog().Record(ctx, store.RecordChangeParams{
		TenantID: e.TenantID, Topic: e.Topic, SessionID: e.SessionID, Chat: e.Chat, Data: b,
	})
	if err != nil {
		return fmt.Errorf("record %s event: %w", e.Topic, err)
	}
	return nil
}

var _ providers.Outbox = ChangeFeed{}

// QueueText implements providers.Outbox: a pending outbound row, picked up
// by the listener like one inserted by supabase-js.
func (f ChangeFeed) QueueText(ctx context.Context, q providers.QueuedText) error {
	err := f.store().Messages().QueueText(ctx, store.QueueTextParams{
		TenantID: q.TenantID, SessionID: q.SessionID, To: q.To, Text: q.Text, Provider: q.Provider, Trigger: q.Trigger,
	})
	if err != nil {
		return fmt.Errorf("queue text to %s: %w", q.To, err)
	}
	return nil
}
