package dispatch_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/dispatch"
	"github.com/zapbase/zapbase/providers"
)

// sentRow inserts an outbound row already sent with a provider id.
func (e *env) sentRow(session, mid string) string {
	e.t.Helper()
	id := e.insert(e.tenant, msg{to: "5511988887777", text: "oi", provider: zapbase.ProviderSandbox, session: session})[0]
	ctx := context.Background()
	_, err := e.pool.Exec(ctx, `UPDATE public.messages SET status = 'sending', message_id = $2 WHERE id = $1`, id, mid)
	require.NoError(e.t, err)
	_, err = e.pool.Exec(ctx, `UPDATE public.messages SET status = 'sent' WHERE id = $1`, id)
	require.NoError(e.t, err)
	return id
}

func TestReceiptsNeverMoveBackwards(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sess := e.newSession(e.tenant, "5511900000001", zapbase.ProviderSandbox, "connected")
	ev := dispatch.NewEvents(e.pool)
	ctx := context.Background()
	receipt := func(mid string, st zapbase.Status) {
		t.Helper()
		require.NoError(t, ev.Receipt(ctx, providers.Receipt{TenantID: e.tenant, SessionID: sess, Provider: zapbase.ProviderSandbox,
			ProviderMessageIDs: []string{mid}, Status: st, Timestamp: time.Now(), ErrorCode: "131047", ErrorReason: "fora da janela"}))
	}

	// read before delivered: read wins, the late delivered is ignored.
	a := e.sentRow(sess, "A")
	receipt("A", zapbase.StatusRead)
	require.Equal(t, zapbase.StatusRead, e.row(a).Status)
	receipt("A", zapbase.StatusDelivered)
	require.Equal(t, zapbase.StatusRead, e.row(a).Status)

	// duplicates are no-ops.
	b := e.sentRow(sess, "B")
	receipt("B", zapbase.StatusDelivered)
	receipt("B", zapbase.StatusDelivered)
	require.Equal(t, zapbase.StatusDelivered, e.row(b).Status)

	// failed after sent is accepted (asynchronous provider failure).
	c := e.sentRow(sess, "C")
	receipt("C", zapbase.StatusFailed)
	rc := e.row(c)
	require.Equal(t, zapbase.StatusFailed, rc.Status)
	require.Equal(t, "131047", rc.ErrorCode)
	// and nothing moves a failed row.
	receipt("C", zapbase.StatusRead)
	require.Equal(t, zapbase.StatusFailed, e.row(c).Status)

	// failed after read (or delivered) is ignored.
	d := e.sentRow(sess, "D")
	receipt("D", zapbase.StatusRead)
	receipt("D", zapbase.StatusFailed)
	rd := e.row(d)
	require.Equal(t, zapbase.StatusRead, rd.Status)
	require.Empty(t, rd.ErrorCode)

	// a receipt naming an unknown id changes nothing and is not an error.
	receipt("nope", zapbase.StatusDelivered)

	// a receipt can overtake the provider's own ack (row still sending).
	f := e.insert(e.tenant, msg{to: "5511988887777", text: "oi", provider: zapbase.ProviderSandbox, session: sess})[0]
	_, err := e.pool.Exec(ctx, `UPDATE public.messages SET status = 'sending', message_id = 'F', claimed_by = 'x' WHERE id = $1`, f)
	require.NoError(t, err)
	receipt("F", zapbase.StatusDelivered)
	rf := e.row(f)
	require.Equal(t, zapbase.StatusDelivered, rf.Status)
	require.Empty(t, rf.ClaimedBy)
}

func TestInboundDuplicateIsNoop(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	sess := e.newSession(e.tenant, "5511900000001", zapbase.ProviderSandbox, "connected")
	ev := dispatch.NewEvents(e.pool)
	var woke [][]string
	ev.OnInboundFunc = func(ctx context.Context, ids []string) { woke = append(woke, ids) }
	m := providers.InboundMessage{TenantID: e.tenant, SessionID: sess, Provider: zapbase.ProviderSandbox,
		ProviderMessageID: "IN1", From: "5511988887777", To: "5511900000001", Type: zapbase.MessageText,
		Content: providers.Content{Text: "olá"}}
	ctx := context.Background()
	require.NoError(t, ev.Inbound(ctx, m))
	require.NoError(t, ev.Inbound(ctx, m))
	var n int
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT count(*) FROM public.messages WHERE message_id = 'IN1' AND direction = 'inbound' AND status = 'received'`).Scan(&n))
	require.Equal(t, 1, n)
	require.Len(t, woke, 1, "only the first delivery wakes the agent runtime")
}
