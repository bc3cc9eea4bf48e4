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
