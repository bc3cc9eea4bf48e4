package meta_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/providers/meta"
	"github.com/zapbase/zapbase/providers/meta/metafake"
)

// Sends answered with Meta's error envelope (testdata/error_*.json) are
// classified by code, with a pt-BR reason of their own; an unknown code
// marked is_transient is retried, not failed.
func TestNewErrorCodesFromTheWire(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	e.openWindow()
	cases := []struct {
		fixture string
		status  int
		kind    string
	}{
		{"error_131062.json", 400, "permanent"},
		{"error_131063.json", 400, "permanent"},
		{"error_131037.json", 400, "permanent"},
		{"error_132068.json", 400, "permanent"},
		{"error_137000.json", 400, "permanent"},
		{"error_135000.json", 400, "permanent"},
		{"error_132069.json", 400, "retryable"},
		{"error_unknown_transient.json", 400, "retryable"},
		{"error_131005.json", 403, "auth"}, // last: it stops the session
	}
	for _, c := range cases {
		e.fake.Script(customer, metafake.Outcome{Status: c.status, Body: testdata(t, c.fixture)})
		_, err := e.prov.Send(e.ctx, providers.OutboundMessage{TenantID: e.tenantID, SessionID: e.session, To: customer,
			Type: zapbase.MessageText, Content: providers.Content{Text: "Oi"}, Attempt: 1, RowID: "00000000-0000-4000-8000-000000000001"})
		require.Error(t, err, c.fixture)
		var ge *meta.GraphError
		require.ErrorAs(t, err, &ge, c.fixture)
		switch c.kind {
		case "permanent":
			var perm *providers.PermanentError
			require.ErrorAs(t, err, &perm, c.fixture)
			require.Equal(t, strings.TrimSuffix(strings.TrimPrefix(c.fixture, "error_"), ".json"), perm.Code)
			require.NotContains(t, perm.Reason, "recusou a mensagem (erro", "a reason of its own: "+c.fixture)
		case "retryable":
			var re *providers.RetryableError
			require.ErrorAs(t, err, &re, c.fixture)
			require.Positive(t, re.After, c.fixture)
		case "auth":
			var al *providers.AuthLostError
			require.ErrorAs(t, err, &al, c.fixture)
			require.Contains(t, al.Reason, "permissão")
		}
	}
}
