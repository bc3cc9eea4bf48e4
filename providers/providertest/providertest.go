// Package providertest is the conformance suite every provider passes.
//
// A provider's test builds a Harness (the provider under test, wired to a
// RecordingSink and, for providers that talk to a remote service, to a fake
// of that service speaking the real wire format) and calls Run. The suite
// checks the contract dispatch relies on: sends answer provider ids, caller
// ids are honoured when the provider generates them, unsupported types are
// refused with a PermanentError wrapping providers.ErrUnsupported, every
// error is one of the classified types, receipts reach the sink, and the
// provider is safe for concurrent use.
package providertest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
)

// DefaultTimeout bounds each send and each wait for an event.
const DefaultTimeout = 10 * time.Second

// ErrorKind names a classified error a harness can provoke.
type ErrorKind string

// Error kinds a harness may be able to provoke on the next send.
const (
	KindRetryable          = ErrorKind(providers.ClassRetryable)
	KindRateLimited        = ErrorKind(providers.ClassRateLimited)
	KindPermanent          = ErrorKind(providers.ClassPermanent)
	KindAuthLost           = ErrorKind(providers.ClassAuthLost)
	KindSessionUnavailable = ErrorKind(providers.ClassSessionUnavailable)
	KindAmbiguous          = ErrorKind(providers.ClassAmbiguous)
)

// Harness describes the provider under test and what the test can make its
// channel do.
type Harness struct {
	// Provider is the provider under test.
	Provider providers.Provider
	// TenantID, SessionID and From identify a session that can send.
	TenantID, SessionID, From string
	// To is a valid recipient.
	To string
	// InvalidTo is a recipient the channel rejects (default "not-a-number").
	InvalidTo string
	// GroupTo is a group the session is in ("…@g.us"); empty when the
	// channel does not send to groups.
	GroupTo string
	// Sink is the RecordingSink the provider reports to (nil: the provider
	// reports nothing the suite can observe; receipt checks are left out).
	Sink *RecordingSink
	// TriggerReceiptFunc makes the channel report a receipt for a sent
	// message (e.g. post a status webhook to the fake). Nil when the
	// provider reports receipts by itself (sandbox).
	TriggerReceiptFunc func(t *testing.T, providerMessageID string)
	// FailNextFunc makes the next send fail with the given kind and answers
	// false when the fake cannot produce it. Nil: no provoked failures.
	FailNextFunc func(t *testing.T, kind ErrorKind) bool
	// Concurrency is the number of parallel senders (default 16).
	Concurrency int
	// Timeout bounds sends and waits (default DefaultTimeout).
	Timeout time.Duration
}

func (h *Harness) defaults() {
	if h.InvalidTo == "" {
		h.InvalidTo = "not-a-number"
	}
	if h.Concurrency == 0 {
		h.Concurrency = 16
	}
	if h.Timeout == 0 {
		h.Timeout = DefaultTimeout
	}
}

func (h *Harness) text(body string) providers.OutboundMessage {
	return providers.OutboundMessage{
		RowID: "00000000-0000-0000-0000-000000000000", TenantID: h.TenantID, SessionID: h.SessionID,
		From: h.From, To: h.To, Type: zapbase.MessageText,
		Content: providers.Content{Text: body}, Attempt: 1,
	}
}

func (h *Harness) send(t *testing.T, msg providers.OutboundMessage) (providers.SendResult, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), h.Timeout)
	defer cancel()
	return h.Provider.Send(ctx, msg)
}

// Run runs the conformance suite as subtests of t.
func Run(t *testing.T, h Harness) {
	h.defaults()
	require.NotNil(t, h.Provider, "harness needs a provider")

	t.Run("Identity", func(t *testing.T) {
		require.True(t, h.Provider.Type().Concrete(), "Type must be a concrete provider type")
		caps := h.Provider.Capabilities()
		require.True(t, caps.Supports(zapbase.MessageText), "every provider sends text")
		for _, mt := range caps.MessageTypes {
			require.True(t, mt.Valid(), "capability lists unknown type %q", mt)
		}
		_, isGen := h.Provider.(providers.IDGenerator)
		require.Equal(t, isGen, caps.CallerMessageIDs, "CallerMessageIDs must match implementing IDGenerator")
	})

	t.Run("SendText", func(t *testing.T) {
		res, err := h.send(t, h.text("olá do providertest"))
		require.NoError(t, err)
		require.NotEmpty(t, res.ProviderMessageID)
	})

	if h.GroupTo != "" {
		t.Run("SendToGroup", func(t *testing.T) {
			msg := h.text("olá, grupo")
			msg.To = h.GroupTo
			res, err := h.send(t, msg)
			require.NoError(t, err)
			require.NotEmpty(t, res.ProviderMessageID)
		})
	}

	if h.Provider.Capabilities().Supports(zapbase.MessagePoll) {
		t.Run("Poll", func(t *testing.T) {
			msg := h.text("")
			msg.Type, msg.Content = zapbase.MessagePoll, providers.Content{Poll: &providers.Poll{Name: "Qual horário?", Options: []string{"Manhã", "Tarde"}}}
			res, err := h.send(t, msg)
			require.NoError(t, err)
			require.NotEmpty(t, res.ProviderMessageID)
			msg.Content.Poll = &providers.Poll{Name: "Só uma opção?", Options: []string{"Sim"}}
			_, err = h.send(t, msg)
			var perm *providers.PermanentError
			require.ErrorAs(t, err, &perm, "an invalid poll is a permanent error")
		})
	}

	t.Run("CallerMessageID", func(t *testing.T) {
		gen, ok := h.Provider.(providers.IDGenerator)
		if !ok {
			// Without caller ids the provider must assign a fresh id per send.
			a, err := h.send(t, h.text("um"))
			require.NoError(t, err)
			b, err := h.send(t, h.text("dois"))
			require.NoError(t, err)
			require.NotEqual(t, a.ProviderMessageID, b.ProviderMessageID)
			return
		}
		id1, id2 := gen.NewMessageID(), gen.NewMessageID()
		require.NotEmpty(t, id1)
		require.NotEqual(t, id1, id2, "generated ids must be unique")
		msg := h.text("com id do chamador")
		msg.ProviderMessageID = id1
		res, err := h.send(t, msg)
		require.NoError(t, err)
		require.Equal(t, id1, res.ProviderMessageID, "the caller's id must be used")
		// A resend (crash recovery) reuses the same id and is accepted.
		msg.Attempt = 2
		res, err = h.send(t, msg)
		require.NoError(t, err)
		require.Equal(t, id1, res.ProviderMessageID)
	})

	t.Run("UnsupportedType", func(t *testing.T) {
		caps := h.Provider.Capabilities()
		var unsupported zapbase.MessageType
		for _, mt := range zapbase.MessageTypes {
			if !caps.Supports(mt) {
				unsupported = mt
				break
			}
		}
		if unsupported == "" {
			require.Len(t, caps.MessageTypes, len(zapbase.MessageTypes), "provider claims every type")
			return
		}
		msg := h.text("tipo não suportado")
		msg.Type = unsupported
		_, err := h.send(t, msg)
		require.Error(t, err)
		var perm *providers.PermanentError
		require.ErrorAs(t, err, &perm, "unsupported type must be a PermanentError")
		require.ErrorIs(t, err, providers.ErrUnsupported)
		require.NotEmpty(t, perm.Reason, "PermanentError needs a pt-BR reason")
	})

	t.Run("InvalidRecipientIsClassified", func(t *testing.T) {
		msg := h.text("destinatário inválido")
		msg.To = h.InvalidTo
		_, err := h.send(t, msg)
		require.Error(t, err)
		require.True(t, Classified(err), "error %v is not a classified provider error", err)
	})

	t.Run("ProvokedErrorsAreClassified", func(t *testing.T) {
		if h.FailNextFunc == nil {
			return // the harness cannot provoke failures; InvalidRecipient covers classification
		}
		kinds := []ErrorKind{KindRetryable, KindRateLimited, KindPermanent, KindAuthLost, KindSessionUnavailable, KindAmbiguous}
		for _, kind := range kinds {
			t.Run(string(kind), func(t *testing.T) {
				if !h.FailNextFunc(t, kind) {
					return // this channel has no such failure
				}
				_, err := h.send(t, h.text("falha provocada"))
				require.Error(t, err)
				require.Equal(t, kind, KindOf(err), "error %v classified as %s", err, KindOf(err))
			})
		}
		// After the provoked failures the channel works again.
		_, err := h.send(t, h.text("depois das falhas"))
		require.NoError(t, err)
	})

	t.Run("Receipts", func(t *testing.T) {
		if h.Sink == nil {
			return // nothing observable: the provider has no sink in this harness
		}
		res, err := h.send(t, h.text("quero recibo"))
		require.NoError(t, err)
		if h.TriggerReceiptFunc != nil {
			h.TriggerReceiptFunc(t, res.ProviderMessageID)
		}
		r := h.Sink.WaitReceipt(t, res.ProviderMessageID, h.Timeout)
		require.Equal(t, h.Provider.Type(), r.Provider)
		require.Equal(t, h.TenantID, r.TenantID)
		require.Contains(t, []zapbase.Status{zapbase.StatusSent, zapbase.StatusDelivered, zapbase.StatusRead, zapbase.StatusPlayed, zapbase.StatusFailed}, r.Status)
	})

	t.Run("Concurrent", func(t *testing.T) {
		var wg sync.WaitGroup
		var mu sync.Mutex
		ids := map[string]bool{}
		errs := make(chan error, h.Concurrency*4)
		for w := range h.Concurrency {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 4 {
					ctx, cancel := context.WithTimeout(context.Background(), h.Timeout)
					res, err := h.Provider.Send(ctx, h.text(fmt.Sprintf("paralelo %d/%d", w, i)))
					cancel()
					if err != nil {
						errs <- err
						continue
					}
					mu.Lock()
					if ids[res.ProviderMessageID] {
						errs <- fmt.Errorf("duplicate provider id %s", res.ProviderMessageID)
					}
					ids[res.ProviderMessageID] = true
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			require.NoError(t, err)
		}
		require.Len(t, ids, h.Concurrency*4)
	})

	t.Run("CancelledContext", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		_, err := h.Provider.Send(ctx, h.text("contexto cancelado"))
		require.Error(t, err, "a send with a cancelled context must not succeed")
		require.True(t, Classified(err) || errors.Is(err, context.Canceled), "error %v is neither classified nor context.Canceled", err)
	})

	if sm, ok := h.Provider.(providers.SessionManager); ok {
		t.Run("SessionStatus", func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), h.Timeout)
			defer cancel()
			st, err := sm.Status(ctx, h.SessionID)
			require.NoError(t, err)
			require.NotEmpty(t, st.State)
		})
	}
}

// KindOf answers which classified error err is ("" when none): the kinds
// are the providers.ErrorClass values.
func KindOf(err error) ErrorKind {
	if c := providers.ClassOf(err); c != providers.ClassUnknown {
		return ErrorKind(c)
	}
	return ""
}

// Classified reports whether err is one of the classified provider errors.
func Classified(err error) bool { return providers.Classified(err) }
