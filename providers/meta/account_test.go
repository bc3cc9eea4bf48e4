package meta_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/providers/meta/metafake"
)

func testdata(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

// sessionState reads a session's persisted state, reason and until.
func (e *env) sessionState(id string) (state, reason string, until *time.Time) {
	e.t.Helper()
	var r *string
	require.NoError(e.t, e.pool.QueryRow(e.ctx, `SELECT state, state_reason, state_until FROM public.whatsapp_sessions WHERE id = $1`, id).
		Scan(&state, &r, &until))
	if r != nil {
		reason = *r
	}
	return state, reason, until
}

func (e *env) sendText(sessionID string) error {
	e.t.Helper()
	_, err := e.prov.Send(e.ctx, providers.OutboundMessage{TenantID: e.tenantID, SessionID: sessionID, To: customer,
		Type: zapbase.MessageText, Content: providers.Content{Text: "Oi"}, Attempt: 1})
	return err
}

// allProcessed asserts every inbox row was processed without error.
func (e *env) allProcessed() {
	e.t.Helper()
	require.Zero(e.t, e.count(`SELECT count(*) FROM wa.webhook_inbox WHERE processed_at IS NULL OR last_error IS NOT NULL`))
}

func TestAccountDisabledBansEverySessionOfTheWABAThenReinstates(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	// A second number of the same WABA, in another tenant.
	other := e.newTenant("other")
	second := e.initialize(other, display2, creds(pnid2, wabaID, token2))
	e.awaitState(providers.StateConnected)

	e.deliver(testdata(t, "webhook_account_update_disabled.json"))
	e.allProcessed()
	for _, id := range []string{e.session, second} {
		state, reason, _ := e.sessionState(id)
		require.Equal(t, providers.StateBanned, state, id)
		require.Contains(t, reason, "desativou a conta do WhatsApp Business")
		require.Contains(t, reason, "September 10, 2026", "Meta's ban date is kept")
	}
	// A banned number does not send.
	e.openWindow()
	err := e.sendText(e.session)
	var su *providers.SessionUnavailableError
	require.ErrorAs(t, err, &su)
	require.Equal(t, providers.StateBanned, su.State)
	require.Empty(t, e.fake.Sends())

	// Reinstated: the numbers are verified against the Graph API again.
	e.deliver(testdata(t, "webhook_account_update_reinstate.json"))
	e.awaitState(providers.StateConnected)
	e.awaitState(providers.StateConnected)
	for _, id := range []string{e.session, second} {
		state, _, _ := e.sessionState(id)
		require.Equal(t, providers.StateConnected, state, id)
	}
	require.NoError(t, e.sendText(e.session))
}

func TestAccountRestrictionBlocksUntilItExpires(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	// A number of another WABA is not affected.
	other := e.newTenant("other")
	elsewhere := e.initialize(other, display2, creds(pnid2, waba2, token2))
	e.awaitState(providers.StateConnected)

	e.deliver(testdata(t, "webhook_account_update_restriction.json"))
	e.allProcessed()
	state, reason, until := e.sessionState(e.session)
	require.Equal(t, providers.StateBlocked, state)
	expires := time.Unix(1789520400, 0).UTC()
	require.NotNil(t, until)
	require.True(t, expires.Equal(*until), "until %s", until)
	require.Contains(t, reason, "iniciar conversas com clientes nem responder conversas iniciadas por clientes")
	require.Contains(t, reason, expires.Format("02/01/2006 15:04"))
	require.NotContains(t, reason, "adicionar números", "the add-number restriction does not stop sends")
	state, _, _ = e.sessionState(elsewhere)
	require.Equal(t, providers.StateConnected, state)

	// Blocked: sends wait until the expiration.
	e.openWindow()
	err := e.sendText(e.session)
	var su *providers.SessionUnavailableError
	require.ErrorAs(t, err, &su)
	require.Equal(t, providers.StateBlocked, su.State)
	require.True(t, expires.Equal(su.Until))
	require.Empty(t, e.fake.Sends())

	// After the expiration the number sends again (inside the window
	// opened by a new customer message).
	e.now = expires.Add(time.Minute)
	later := strings.NewReplacer(`"timestamp": "1789003200"`, `"timestamp": "1789520460"`,
		"wamid.HBgNNTUxMTk5OTk5OTk5ORUCABIYFDNFQjBDNzFBMkY0RDhCNUU2QTdCAA==", "wamid.after-restriction")
	e.deliver([]byte(later.Replace(string(metafake.Fixture("webhook_text.json")))))
	require.NoError(t, e.sendText(e.session))
}

func TestAccountEventsThatDoNotStopSending(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	for _, f := range []string{
		"webhook_account_update_violation.json",
		"webhook_account_update_schedule_for_disable.json",
		"webhook_account_update_restriction_add_number_only.json",
		"webhook_account_update_location.json",
	} {
		e.deliver(testdata(t, f))
		state, reason, until := e.sessionState(e.session)
		require.Equal(t, providers.StateConnected, state, f)
		require.Empty(t, reason, f)
		require.Nil(t, until, f)
	}
	e.allProcessed()
	require.Equal(t, 4, e.count(`SELECT count(*) FROM wa.webhook_inbox WHERE processed_at IS NOT NULL`))
}

func TestAccountDeletedLogsTheSessionOut(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	e.deliver(testdata(t, "webhook_account_update_deleted.json"))
	e.allProcessed()
	state, reason, _ := e.sessionState(e.session)
	require.Equal(t, providers.StateLoggedOut, state)
	require.Contains(t, reason, "excluída")
	var su *providers.SessionUnavailableError
	require.ErrorAs(t, e.sendText(e.session), &su)
}

func TestPhoneNumberQualityUpdateIsRecorded(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	e.deliver(testdata(t, "webhook_phone_number_quality_update.json"))
	e.allProcessed()
	var data []byte
	require.NoError(t, e.pool.QueryRow(e.ctx, `SELECT session_data FROM public.whatsapp_sessions WHERE id = $1`, e.session).Scan(&data))
	var sd struct {
		PhoneNumberID string         `json:"phoneNumberId"`
		Quality       map[string]any `json:"metaQuality"`
	}
	require.NoError(t, json.Unmarshal(data, &sd))
	require.Equal(t, pnid, sd.PhoneNumberID, "existing session data kept")
	require.Equal(t, "THROUGHPUT_UPGRADE", sd.Quality["event"])
	require.Equal(t, "TIER_UNLIMITED", sd.Quality["currentLimit"])
	require.Equal(t, "TIER_UNLIMITED", sd.Quality["maxDailyConversations"])
	state, _, _ := e.sessionState(e.session)
	require.Equal(t, providers.StateConnected, state)
}
