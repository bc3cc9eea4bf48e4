package whatsmeow

import (
	"context"
	"testing"
	"time"

	"github.com/zapbase/zapbase/store"

	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/startstop/startstoptest"
)

// TestProviderStartStopStress starts and stops a provider driving a paired
// session from many goroutines under the race detector: it ends stopped
// with its lease and holder row given up, and a later start drives the
// session again.
func TestProviderStartStopStress(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	jid := ownPN + ":7@s.whatsapp.net"
	id := f.addSession(t, ownPN, jid)
	devices := &fakeDevices{}
	devices.add(jid)
	p := f.provider(t, devices, newSignalSink(f.pool))
	startstoptest.Stress(context.Background(), t, p)

	var leases, holders int
	require.NoError(t, f.pool.QueryRow(context.Background(),
		`SELECT (SELECT count(*) FROM wa.session_leases), (SELECT count(*) FROM wa.lease_holders)`).Scan(&leases, &holders))
	require.Zero(t, leases, "every lease given up")
	require.Zero(t, holders, "the holder unregistered")

	require.NoError(t, p.Start(context.Background()))
	require.Eventually(t, func() bool { return p.Owns(id) }, 60*time.Second, 10*time.Millisecond)
}

// TestLeaseManagerStartStopStress does the same for a bare lease manager.
func TestLeaseManagerStartStopStress(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	m, err := NewLeaseManager(LeaseConfig{Store: store.New(f.pool).Leases(), Holder: "stress-" + t.Name()})
	require.NoError(t, err)
	startstoptest.Stress(context.Background(), t, m)
	var holders int
	require.NoError(t, f.pool.QueryRow(context.Background(), `SELECT count(*) FROM wa.lease_holders`).Scan(&holders))
	require.Zero(t, holders)
}
