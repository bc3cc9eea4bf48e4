package providertest

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/zapbase/zapbase/providers"
)

// RecordingSink is an in-memory providers.EventSink for provider tests. Use
// dispatch.NewEvents for tests that need the database.
type RecordingSink struct {
	mu       sync.Mutex
	receipts []providers.Receipt
	inbound  []providers.InboundMessage
	states   map[string]providers.SessionState
	bound    []providers.BindProviderIDParams
	errors   []providers.MarkInboundErrorParams
	changed  chan struct{}
}

var _ providers.EventSink = (*RecordingSink)(nil)

// NewRecordingSink returns an empty sink.
func NewRecordingSink() *RecordingSink {
	return &RecordingSink{states: map[string]providers.SessionState{}, changed: make(chan struct{})}
}

func (s *RecordingSink) notifyLocked() {
	close(s.changed)
	s.changed = make(chan struct{})
}

// Receipt implements providers.EventSink.
func (s *RecordingSink) Receipt(ctx context.Context, r providers.Receipt) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	r.ProviderMessageIDs = append([]string(nil), r.ProviderMessageIDs...)
	s.receipts = append(s.receipts, r)
	s.notifyLocked()
	return nil
}

// Inbound implements providers.EventSink.
func (s *RecordingSink) Inbound(ctx context.Context, m providers.InboundMessage) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.inbound = append(s.inbound, m)
	s.notifyLocked()
	return nil
}

// BindProviderID implements providers.EventSink.
func (s *RecordingSink) BindProviderID(ctx context.Context, p providers.BindProviderIDParams) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.bound = append(s.bound, p)
	s.notifyLocked()
	return nil
}

// MarkInboundError implements providers.EventSink.
func (s *RecordingSink) MarkInboundError(ctx context.Context, p providers.MarkInboundErrorParams) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.errors = append(s.errors, p)
	s.notifyLocked()
	return nil
}

// SessionState implements providers.EventSink.
func (s *RecordingSink) SessionState(ctx context.Context, sessionID string, st providers.SessionState) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.states[sessionID] = st
	s.notifyLocked()
	return nil
}

// Receipts returns the receipts recorded so far.
func (s *RecordingSink) Receipts() []providers.Receipt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]providers.Receipt(nil), s.receipts...)
}

// InboundMessages returns the inbound messages recorded so far.
func (s *RecordingSink) InboundMessages() []providers.InboundMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]providers.InboundMessage(nil), s.inbound...)
}

// State returns the last state recorded for a session.
func (s *RecordingSink) State(sessionID string) (providers.SessionState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	st, ok := s.states[sessionID]
	return st, ok
}

// WaitFor waits until cond (called under the sink's lock with the recorded
// events) holds, failing the test after timeout.
func (s *RecordingSink) WaitFor(t testing.TB, timeout time.Duration, what string, cond func(receipts []providers.Receipt, inbound []providers.InboundMessage) bool) {
	t.Helper()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		ok := cond(s.receipts, s.inbound)
		ch := s.changed
		s.mu.Unlock()
		if ok {
			return
		}
		select {
		case <-ch:
		case <-deadline.C:
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
	}
}

// WaitReceipt waits for the first receipt naming providerMessageID.
func (s *RecordingSink) WaitReceipt(t testing.TB, providerMessageID string, timeout time.Duration) providers.Receipt {
	t.Helper()
	var found providers.Receipt
	s.WaitFor(t, timeout, "receipt for "+providerMessageID, func(rs []providers.Receipt, _ []providers.InboundMessage) bool {
		for _, r := range rs {
			for _, id := range r.ProviderMessageIDs {
				if id == providerMessageID {
					found = r
					return true
				}
			}
		}
		return false
	})
	return found
}

// The corrections of rows are accepted and forgotten: an in-memory sink has
// no rows to correct (reads answer "no row").

// RecordPricing implements providers.EventSink.
func (s *RecordingSink) RecordPricing(context.Context, providers.RecordPricingParams) (providers.PricingResult, error) {
	return providers.PricingResult{}, nil
}

// SetInboundMedia implements providers.EventSink.
func (s *RecordingSink) SetInboundMedia(context.Context, providers.SetInboundMediaParams) error {
	return nil
}

// MergeSessionData implements providers.EventSink.
func (s *RecordingSink) MergeSessionData(context.Context, string, json.RawMessage) error { return nil }

// PasskeyState implements providers.EventSink.
func (s *RecordingSink) PasskeyState(context.Context, string, providers.SessionState) error {
	return nil
}

// FillUndecryptable implements providers.EventSink.
func (s *RecordingSink) FillUndecryptable(context.Context, providers.InboundMessage) (bool, error) {
	return false, nil
}

// ApplyEdit implements providers.EventSink.
func (s *RecordingSink) ApplyEdit(context.Context, providers.ApplyEditParams) (bool, error) {
	return false, nil
}

// ApplyRevoke implements providers.EventSink.
func (s *RecordingSink) ApplyRevoke(context.Context, providers.ApplyRevokeParams) (bool, error) {
	return false, nil
}

// MarkInboundRead implements providers.EventSink.
func (s *RecordingSink) MarkInboundRead(context.Context, string, string) error { return nil }
