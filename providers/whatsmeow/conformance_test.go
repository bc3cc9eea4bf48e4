package whatsmeow

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"

	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/providers/providertest"
)

// teeSink writes every event to the database sink and to a RecordingSink
// the conformance suite observes.
type teeSink struct {
	providers.EventSink // the database sink
	rec                 *providertest.RecordingSink
}

func (s teeSink) Receipt(ctx context.Context, r providers.Receipt) error {
	err := s.EventSink.Receipt(ctx, r)
	return errors.Join(err, s.rec.Receipt(ctx, r))
}

func (s teeSink) Inbound(ctx context.Context, m providers.InboundMessage) error {
	err := s.EventSink.Inbound(ctx, m)
	return errors.Join(err, s.rec.Inbound(ctx, m))
}

func (s teeSink) BindProviderID(ctx context.Context, p providers.BindProviderIDParams) error {
	return errors.Join(s.EventSink.BindProviderID(ctx, p), s.rec.BindProviderID(ctx, p))
}

func (s teeSink) MarkInboundError(ctx context.Context, p providers.MarkInboundErrorParams) error {
	return errors.Join(s.EventSink.MarkInboundError(ctx, p), s.rec.MarkInboundError(ctx, p))
}

func (s teeSink) SessionState(ctx context.Context, id string, st providers.SessionState) error {
	err := s.EventSink.SessionState(ctx, id, st)
	return errors.Join(err, s.rec.SessionState(ctx, id, st))
}

// TestConformance runs providertest against the provider driving a paired
// device through the fake client: sends reach the fake as whatsmeow calls,
// receipts are real events.Receipt values, and provoked failures are the
// errors whatsmeow returns.
func TestConformance(t *testing.T) {
	t.Parallel()
	rec := providertest.NewRecordingSink()
	// The client has the FeatureClient methods: polls are in the suite.
	f, p, c, _, id := featureSession(t, func(cfg *Config) { cfg.Sink = teeSink{EventSink: cfg.Sink, rec: rec} })
	contact := types.NewJID(contactPN, types.DefaultUserServer)

	failures := map[providertest.ErrorKind]error{
		providertest.KindRetryable:          whatsmeow.ErrMessageTimedOut,
		providertest.KindRateLimited:        fmt.Errorf("%w %d", whatsmeow.ErrServerReturnedError, 429),
		providertest.KindPermanent:          fmt.Errorf("%w %d", whatsmeow.ErrServerReturnedError, 479),
		providertest.KindAuthLost:           whatsmeow.ErrNotLoggedIn,
		providertest.KindSessionUnavailable: whatsmeow.ErrNotConnected,
		// No ambiguous send: the caller's id makes a resend safe.
	}
	providertest.Run(t, providertest.Harness{
		Provider:  p,
		TenantID:  f.tenant,
		SessionID: id,
		From:      ownPN,
		To:        contactPN,
		GroupTo:   "120363041234567890@g.us",
		Sink:      rec,
		TriggerReceiptFunc: func(t *testing.T, providerMessageID string) {
			c.emit(&events.Receipt{
				MessageSource: types.MessageSource{Chat: contact, Sender: contact},
				MessageIDs:    []types.MessageID{providerMessageID},
				Timestamp:     time.Now(),
				Type:          types.ReceiptTypeDelivered,
			})
		},
		FailNextFunc: func(t *testing.T, kind providertest.ErrorKind) bool {
			err, ok := failures[kind]
			if !ok {
				return false
			}
			c.mu.Lock()
			c.failNext = err
			c.mu.Unlock()
			return true
		},
	})
}
