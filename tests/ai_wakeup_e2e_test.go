package tests

import (
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/supabase/devdb/devdbtest"
)

// TestGenericWebhookWakesAgentAtOnce is the regression test of the shared
// event sink: an inbound message posted to the generic webhook reaches the
// agent runtime through the sink's inbound hook. Every other path to the
// agent is switched off (no change stream, a one-hour agent scan, started
// before the message arrives), so the reply exists only if the API writes
// through the same sink as the providers.
func TestGenericWebhookWakesAgentAtOnce(t *testing.T) {
	dbURL := devdbtest.NewDatabase(t)
	ctx := withTimeout(t, 3*time.Minute)
	pool, err := pgxpool.New(ctx, dbURL)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	at := seedAITenant(t, ctx, pool)
	proc := StartServe(t, dbURL, map[string]string{
		"ZAPBASE_LISTENER":              "false",
		"ZAPBASE_AI_SCAN_INTERVAL":      "1h",
		"ZAPBASE_AI_DEBOUNCE":           "0",
		"ZAPBASE_SANDBOX_RECEIPT_DELAY": "0",
	})
	at.attach(proc)

	const contact = "5511944443333"
	at.inbound(contact, aiScenarioText)
	reps := at.waitSentReplies(ctx, contact, 1, 60*time.Second)
	require.Len(t, reps, 1)
	require.Contains(t, reps[0].Text, "Vila Mariana", "the local backend answered from the template's knowledge base")
}
