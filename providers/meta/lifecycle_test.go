package meta_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/providers/meta"
	"github.com/zapbase/zapbase/providers/meta/metafake"
	"github.com/zapbase/zapbase/startstop/startstoptest"
)

// TestStartStopStress starts and stops the provider (its inbox processor)
// from many goroutines under the race detector; a later start still drains
// the inbox.
func TestStartStopStress(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	startstoptest.Stress(e.ctx, t, e.prov)

	require.NoError(t, e.prov.Start(e.ctx))
	body := metafake.Fixture("webhook_text.json")
	require.Equal(t, http.StatusOK, e.post(body, meta.Sign(appSecret, body)))
	m := <-e.rec.inbound
	require.Equal(t, customer, m.From)
}
