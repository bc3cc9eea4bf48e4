package ai_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/ai"
	"github.com/zapbase/zapbase/ai/aitest"
	"github.com/zapbase/zapbase/startstop/startstoptest"
)

// TestStartStopStress starts and stops one runtime from many goroutines
// under the race detector; a later start still answers.
func TestStartStopStress(t *testing.T) {
	e := newEnv(t)
	e.customAgent()
	model := &aitest.ScriptedModel{}
	rt := e.start(ai.RuntimeParams{Backends: withModel(model)})
	startstoptest.Stress(context.Background(), t, rt)

	require.NoError(t, rt.Start(context.Background()))
	e.inbound(contact, "Quero ver apartamentos")
	require.Equal(t, ai.OutcomeReplied, e.waitOutcome().Outcome)
	require.Len(t, e.replies(), 1)
}
