package sandbox_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/providers/providertest"
	"github.com/zapbase/zapbase/providers/sandbox"
	"github.com/zapbase/zapbase/startstop/startstoptest"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

func TestConformance(t *testing.T) {
	sink := providertest.NewRecordingSink()
	p := sandbox.New(sandbox.Config{Sink: sink, ZeroDelay: true})
	t.Cleanup(p.Close)
	providertest.Run(t, providertest.Harness{
		Provider: p, TenantID: "t1", SessionID: "s1", From: "5511900000000", To: "5511988887777",
		GroupTo: "120363041234567890@g.us", Sink: sink,
		FailNextFunc: func(t *testing.T, kind providertest.ErrorKind) bool {
			p.FailNext(1, sandbox.ErrorOf(kind))
			return true
		},
	})
}

func TestReceiptsWalkForwardWithDelays(t *testing.T) {
	sink := providertest.NewRecordingSink()
	p := sandbox.New(sandbox.Config{Sink: sink, SentDelay: time.Millisecond, DeliveredDelay: 2 * time.Millisecond, ReadDelay: 3 * time.Millisecond})
	t.Cleanup(p.Close)
	res, err := p.Send(context.Background(), providers.OutboundMessage{TenantID: "t", SessionID: "s", To: "5511988887777", Type: zapbase.MessageText, Content: providers.Content{Text: "oi"}})
	require.NoError(t, err)
	sink.WaitFor(t, 5*time.Second, "three receipts", func(rs []providers.Receipt, _ []providers.InboundMessage) bool { return len(rs) == 3 })
	var got []zapbase.Status
	for _, r := range sink.Receipts() {
		require.Equal(t, []string{res.ProviderMessageID}, r.ProviderMessageIDs)
		got = append(got, r.Status)
	}
	require.Equal(t, []zapbase.Status{zapbase.StatusSent, zapbase.StatusDelivered, zapbase.StatusRead}, got)
}

func TestFailRecipientAndCounts(t *testing.T) {
	p := sandbox.New(sandbox.Config{NoReceipts: true})
	t.Cleanup(p.Close)
	p.FailRecipient("551100*", &providers.PermanentError{Code: "x", Reason: "recusado", Err: errors.New("no")})
	msg := providers.OutboundMessage{To: "5511000001", Type: zapbase.MessageText, Content: providers.Content{Text: "oi"}}
	_, err := p.Send(context.Background(), msg)
	require.Equal(t, providertest.KindPermanent, providertest.KindOf(err))

	msg.To = "5511999999999"
	msg.ProviderMessageID = p.NewMessageID()
	for range 3 {
		_, err = p.Send(context.Background(), msg)
		require.NoError(t, err)
	}
	require.Equal(t, 3, p.SendCount(msg.ProviderMessageID))
	require.Equal(t, sandbox.SendStats{Total: 3, Unique: 1, Duplicates: 2}, p.Stats())

	p.ClearFailures()
	msg.To = "5511000001"
	_, err = p.Send(context.Background(), msg)
	require.NoError(t, err)
}

func TestSessionsAndInbound(t *testing.T) {
	sink := providertest.NewRecordingSink()
	p := sandbox.New(sandbox.Config{Sink: sink, NoReceipts: true})
	t.Cleanup(p.Close)
	ctx := context.Background()
	st, err := p.Initialize(ctx, providers.InitializeParams{TenantID: "t", SessionID: "s", PhoneNumber: "5511900000000"})
	require.NoError(t, err)
	require.Equal(t, providers.StateConnected, st.State)
	rec, ok := sink.State("s")
	require.True(t, ok)
	require.Equal(t, providers.StateConnected, rec.State)

	require.NoError(t, p.Disconnect(ctx, "s", false))
	_, err = p.Send(ctx, providers.OutboundMessage{SessionID: "s", To: "5511988887777", Type: zapbase.MessageText, Content: providers.Content{Text: "oi"}})
	require.Equal(t, providertest.KindSessionUnavailable, providertest.KindOf(err))

	id, err := p.SimulateInbound(ctx, sandbox.InboundParams{TenantID: "t", SessionID: "s", From: "5511988887777", To: "5511900000000", Content: providers.Content{Text: "olá"}})
	require.NoError(t, err)
	in := sink.InboundMessages()
	require.Len(t, in, 1)
	require.Equal(t, id, in[0].ProviderMessageID)
	require.Equal(t, zapbase.MessageText, in[0].Type)

	require.NoError(t, p.SetTyping(ctx, "s", "5511988887777", true))
	require.True(t, p.Typing("s", "5511988887777"))
	require.NoError(t, p.MarkRead(ctx, providers.MarkReadParams{SessionID: "s", ProviderMessageIDs: []string{id}}))
	require.Len(t, p.MarkedRead(), 1)
}

func TestStartStopStress(t *testing.T) {
	sink := providertest.NewRecordingSink()
	p := sandbox.New(sandbox.Config{Sink: sink, ZeroDelay: true})
	startstoptest.Stress(context.Background(), t, p)

	// Receipts queued while stopped are reported once started again.
	_, err := p.Send(context.Background(), providers.OutboundMessage{TenantID: "t", SessionID: "s", To: "5511988887777", Type: zapbase.MessageText, Content: providers.Content{Text: "oi"}})
	require.NoError(t, err)
	require.NoError(t, p.Start(context.Background()))
	t.Cleanup(p.Close)
	sink.WaitFor(t, 5*time.Second, "three receipts", func(rs []providers.Receipt, _ []providers.InboundMessage) bool { return len(rs) == 3 })
}
