package dispatch_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase"
)

// TestStateMachineMatchesSQL walks every (from, to) pair of statuses through
// wa.status_transition_allowed and compares with zapbase.CanTransition, so
// the Go and SQL rules cannot drift apart.
func TestStateMachineMatchesSQL(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	all := append(append([]zapbase.Status(nil), zapbase.Statuses...), "bogus")
	pairs := 0
	for _, from := range all {
		for _, to := range all {
			var allowed bool
			require.NoError(t, e.pool.QueryRow(context.Background(),
				`SELECT wa.status_transition_allowed($1, $2)`, string(from), string(to)).Scan(&allowed))
			require.Equal(t, zapbase.CanTransition(from, to), allowed, "%s → %s", from, to)
			pairs++
		}
	}
	require.Equal(t, (len(zapbase.Statuses)+1)*(len(zapbase.Statuses)+1), pairs)

	// Spot-check the rules the receipts rely on, in both implementations.
	for _, c := range []struct {
		from, to zapbase.Status
		ok       bool
	}{
		{zapbase.StatusSent, zapbase.StatusRead, true},       // read may skip delivered
		{zapbase.StatusRead, zapbase.StatusDelivered, false}, // never backwards
		{zapbase.StatusSent, zapbase.StatusFailed, true},     // async failure after sent
		{zapbase.StatusDelivered, zapbase.StatusFailed, false},
		{zapbase.StatusRead, zapbase.StatusFailed, false},
		{zapbase.StatusFailed, zapbase.StatusSent, false}, // failed is final
		{zapbase.StatusSending, zapbase.StatusPending, true},
		{zapbase.StatusDelivered, zapbase.StatusDelivered, false}, // duplicates are no-ops
	} {
		require.Equal(t, c.ok, zapbase.CanTransition(c.from, c.to), "%s → %s", c.from, c.to)
	}
}

// TestStatusGuardTriggerMatchesRules moves a row through every (from, to)
// pair with a plain UPDATE: the guard trigger (rules inlined for speed,
// migration 000140) must refuse exactly what wa.status_transition_allowed
// refuses, and stamp the time of the state reached.
func TestStatusGuardTriggerMatchesRules(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	ctx := context.Background()
	for _, from := range zapbase.Statuses {
		for _, to := range zapbase.Statuses {
			if from == to {
				continue
			}
			var id string
			require.NoError(t, e.pool.QueryRow(ctx, `INSERT INTO public.messages (tenant_id, to_number, status)
VALUES ($1, '5511988887777', $2) RETURNING id`, e.tenant, string(from)).Scan(&id))
			var allowed bool
			require.NoError(t, e.pool.QueryRow(ctx, `SELECT wa.status_transition_allowed($1, $2)`, string(from), string(to)).Scan(&allowed))
			_, err := e.pool.Exec(ctx, `UPDATE public.messages SET status = $2 WHERE id = $1`, id, string(to))
			if !allowed {
				require.Error(t, err, "%s → %s must be refused", from, to)
				continue
			}
			require.NoError(t, err, "%s → %s", from, to)
			var stamped bool
			require.NoError(t, e.pool.QueryRow(ctx, `SELECT CASE $2
  WHEN 'sent' THEN sent_at IS NOT NULL WHEN 'delivered' THEN delivered_at IS NOT NULL AND sent_at IS NOT NULL
  WHEN 'read' THEN read_at IS NOT NULL AND sent_at IS NOT NULL WHEN 'played' THEN played_at IS NOT NULL
  WHEN 'failed' THEN failed_at IS NOT NULL ELSE true END FROM public.messages WHERE id = $1`, id, string(to)).Scan(&stamped))
			require.True(t, stamped, "%s → %s: time of the state not stamped", from, to)
		}
	}
}
