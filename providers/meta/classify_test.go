package meta_test

import (
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/providers/meta"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	type want struct {
		kind  string // retryable, rate, permanent, auth, blocked, ambiguous
		scope providers.RateLimitScope
		after time.Duration
	}
	graph := func(code, status int) error { return &meta.GraphError{Code: code, HTTPStatus: status, Message: "x"} }
	cases := []struct {
		name    string
		err     error
		attempt int
		want    want
	}{
		{"130429 throughput", graph(130429, 400), 1, want{"rate", providers.ScopeNumber, 3 * time.Second}},
		{"130429 as 429", graph(130429, 429), 1, want{"rate", providers.ScopeNumber, 3 * time.Second}},
		{"80007 waba", graph(80007, 400), 1, want{"rate", providers.ScopeNumber, time.Minute}},
		{"4 app", graph(4, 400), 1, want{"rate", providers.ScopeNumber, 5 * time.Minute}},
		{"131048 spam", graph(131048, 400), 1, want{"rate", providers.ScopeNumber, time.Hour}},
		{"131056 attempt 1", graph(131056, 400), 1, want{"rate", providers.ScopeRecipient, time.Second}},
		{"131056 attempt 2", graph(131056, 400), 2, want{"rate", providers.ScopeRecipient, 4 * time.Second}},
		{"131056 attempt 4", graph(131056, 400), 4, want{"rate", providers.ScopeRecipient, 64 * time.Second}},
		{"131056 capped", graph(131056, 400), 40, want{"rate", providers.ScopeRecipient, time.Hour}},
		{"131047 window", graph(131047, 400), 1, want{kind: "permanent"}},
		{"131026 undeliverable", graph(131026, 400), 1, want{kind: "permanent"}},
		{"131049 marketing cap", graph(131049, 400), 1, want{kind: "permanent"}},
		{"131050 opt-out", graph(131050, 400), 1, want{kind: "permanent"}},
		{"131051 unsupported", graph(131051, 400), 1, want{kind: "permanent"}},
		{"131053 media", graph(131053, 400), 1, want{kind: "permanent"}},
		{"131021 self", graph(131021, 400), 1, want{kind: "permanent"}},
		{"131030 allow list", graph(131030, 400), 1, want{kind: "permanent"}},
		{"100 invalid", graph(100, 400), 1, want{kind: "permanent"}},
		{"131008 missing", graph(131008, 400), 1, want{kind: "permanent"}},
		{"131009 value", graph(131009, 400), 1, want{kind: "permanent"}},
		{"132000 params", graph(132000, 400), 1, want{kind: "permanent"}},
		{"132001 template", graph(132001, 404), 1, want{kind: "permanent"}},
		{"132005 too long", graph(132005, 400), 1, want{kind: "permanent"}},
		{"132007 policy", graph(132007, 400), 1, want{kind: "permanent"}},
		{"132012 format", graph(132012, 400), 1, want{kind: "permanent"}},
		{"132015 paused", graph(132015, 400), 1, want{kind: "permanent"}},
		{"132016 disabled", graph(132016, 400), 1, want{kind: "permanent"}},
		{"132018 validation", graph(132018, 400), 1, want{kind: "permanent"}},
		{"130497 country", graph(130497, 403), 1, want{kind: "permanent"}},
		{"130472 experiment", graph(130472, 400), 1, want{kind: "permanent"}},
		{"131064 limit", graph(131064, 400), 1, want{kind: "permanent"}},
		{"unknown 4xx", graph(999999, 400), 1, want{kind: "permanent"}},
		{"unknown 4xx is_transient", &meta.GraphError{Code: 999999, HTTPStatus: 400, IsTransient: true}, 1, want{"retryable", "", 30 * time.Second}},
		{"known permanent is_transient", &meta.GraphError{Code: 131047, HTTPStatus: 400, IsTransient: true}, 1, want{kind: "permanent"}},
		{"131062", graph(131062, 400), 1, want{kind: "permanent"}},
		{"131063", graph(131063, 400), 1, want{kind: "permanent"}},
		{"131037 display name", graph(131037, 400), 1, want{kind: "permanent"}},
		{"131005 access denied", graph(131005, 403), 1, want{kind: "auth"}},
		{"132068 flow blocked", graph(132068, 400), 1, want{kind: "permanent"}},
		{"132069 flow throttled", graph(132069, 400), 1, want{"retryable", "", 10 * time.Minute}},
		{"137000 identity key", graph(137000, 400), 1, want{kind: "permanent"}},
		{"135000 generic", graph(135000, 400), 1, want{kind: "permanent"}},
		{"190 token", graph(190, 401), 1, want{kind: "auth"}},
		{"0 auth", graph(0, 401), 1, want{kind: "auth"}},
		{"10 permission", graph(10, 403), 1, want{kind: "auth"}},
		{"200 permission", graph(200, 403), 1, want{kind: "auth"}},
		{"368 restricted", graph(368, 403), 1, want{kind: "blocked"}},
		{"131031 locked", graph(131031, 403), 1, want{kind: "blocked"}},
		{"133010 not registered", graph(133010, 400), 1, want{kind: "blocked"}},
		{"131042 payment", graph(131042, 400), 1, want{kind: "blocked"}},
		{"131045 registration", graph(131045, 500), 1, want{kind: "blocked"}},
		{"131000 unknown", graph(131000, 500), 1, want{"retryable", "", 10 * time.Second}},
		{"1 unknown", graph(1, 500), 1, want{"retryable", "", 10 * time.Second}},
		{"2 unavailable", graph(2, 503), 1, want{"retryable", "", 30 * time.Second}},
		{"131016 unavailable", graph(131016, 500), 1, want{"retryable", "", 30 * time.Second}},
		{"133004 unavailable", graph(133004, 503), 1, want{"retryable", "", 30 * time.Second}},
		{"131057 maintenance", graph(131057, 500), 1, want{"retryable", "", time.Minute}},
		{"unknown 5xx", graph(999999, 502), 1, want{"retryable", "", 15 * time.Second}},
		{"plain 502", &meta.HTTPError{Status: http.StatusBadGateway}, 1, want{"retryable", "", 15 * time.Second}},
		{"plain 401", &meta.HTTPError{Status: http.StatusUnauthorized}, 1, want{kind: "auth"}},
		{"timeout after write", &meta.TransportError{Written: true, Err: errors.New("timeout")}, 1, want{kind: "ambiguous"}},
		{"dial failure", &meta.TransportError{Written: false, Err: errors.New("refused")}, 1, want{kind: "retryable"}},
	}
	for _, c := range cases {
		err := meta.Classify(c.err, c.attempt, true)
		var (
			re   *providers.RetryableError
			rl   *providers.RateLimitedError
			perm *providers.PermanentError
			al   *providers.AuthLostError
			su   *providers.SessionUnavailableError
			amb  *providers.AmbiguousError
		)
		switch c.want.kind {
		case "retryable":
			require.ErrorAs(t, err, &re, c.name)
			require.Equal(t, c.want.after, re.After, c.name)
		case "rate":
			require.ErrorAs(t, err, &rl, c.name)
			require.Equal(t, c.want.scope, rl.Scope, c.name)
			require.Equal(t, c.want.after, rl.After, c.name)
		case "permanent":
			require.ErrorAs(t, err, &perm, c.name)
			require.NotEmpty(t, perm.Reason, c.name)
			require.NotEmpty(t, perm.Code, c.name)
		case "auth":
			require.ErrorAs(t, err, &al, c.name)
			require.NotEmpty(t, al.Reason, c.name)
		case "blocked":
			require.ErrorAs(t, err, &su, c.name)
			require.Equal(t, providers.StateBlocked, su.State, c.name)
		case "ambiguous":
			require.ErrorAs(t, err, &amb, c.name)
		}
	}
	// A timed-out read-only call (not a send) is simply retryable.
	var re *providers.RetryableError
	require.ErrorAs(t, meta.Classify(&meta.TransportError{Written: true, Err: errors.New("t")}, 1, false), &re)
	require.Contains(t, meta.Reason(131047), "modelo (template)")
}
