package tests

import (
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/supabase"
	"github.com/zapbase/zapbase/supabase/devdb/devdbtest"
)

// driveInterval is one process driving one device, from its logs.
type driveInterval struct {
	Proc       string
	Start, End time.Time // End zero: still connected
}

// deviceIntervals rebuilds, from the fake client's connect/disconnect log
// lines of one process, when it drove each device. Open intervals end at
// end (zero: still open).
func deviceIntervals(t *testing.T, proc, logs string, end time.Time) map[string][]driveInterval {
	t.Helper()
	out := map[string][]driveInterval{}
	open := map[string]time.Time{}
	scanLines(logs, func(line string) {
		if !strings.Contains(line, `"fake device `) {
			return
		}
		var e struct {
			Time   time.Time `json:"time"`
			Msg    string    `json:"msg"`
			Device string    `json:"device"`
		}
		require.NoError(t, json.Unmarshal([]byte(line), &e), line)
		switch e.Msg {
		case "fake device connected":
			_, already := open[e.Device]
			require.False(t, already, "%s connected %s twice without a disconnect", proc, e.Device)
			open[e.Device] = e.Time
		case "fake device disconnected":
			start, ok := open[e.Device]
			require.True(t, ok, "%s disconnected %s that was not connected", proc, e.Device)
			delete(open, e.Device)
			out[e.Device] = append(out[e.Device], driveInterval{Proc: proc, Start: start, End: e.Time})
		}
	})
	for dev, start := range open {
		out[dev] = append(out[dev], driveInterval{Proc: proc, Start: start, End: end})
	}
	return out
}

// TestWhatsAppWebLeasesAcrossThreeProcesses boots three `zapbase serve`
// processes on one database with paired WhatsApp Web sessions (offline fake
// client: leases, reconnects and events are the real code). Every session
// ends up driven by exactly one process, spread evenly; SIGKILL of one moves
// its sessions to the others within 30 s; and the processes' own logs show
// no session was ever driven by two processes at once.
func TestWhatsAppWebLeasesAcrossThreeProcesses(t *testing.T) {
	const sessions = 9
	url := devdbtest.NewDatabase(t)
	ctx := withTimeout(t, 3*time.Minute)
	pool, err := supabase.Connect(ctx, url, supabase.PoolConfig{})
	require.NoError(t, err)
	t.Cleanup(pool.Close)

	var tenant string
	require.NoError(t, pool.QueryRow(ctx, `INSERT INTO public.tenants (client_id, name) VALUES ('leases', 'Leases') RETURNING id::text`).Scan(&tenant))
	devices := map[string]string{} // session id → device jid
	for i := range sessions {
		phone := fmt.Sprintf("55119000001%02d", i)
		jid := phone + ":3@s.whatsapp.net"
		var id string
		require.NoError(t, pool.QueryRow(ctx, `
INSERT INTO public.whatsapp_sessions (tenant_id, phone_number, provider_type, device_jid, state)
VALUES ($1, $2, 'baileys', $3, 'disconnected') RETURNING id::text`, tenant, phone, jid).Scan(&id))
		devices[id] = jid
	}

	names := []string{"wa-a", "wa-b", "wa-c"}
	procs := map[string]*Proc{}
	for _, name := range names {
		procs[name] = StartServe(t, url, map[string]string{
			"ZAPBASE_INSTANCE_ID":         name,
			"ZAPBASE_TEST_WHATSMEOW_FAKE": "1",
			"ZAPBASE_WHATSAPP_LEASE_TTL":  "3s",
			"ZAPBASE_LISTENER":            "false",
		})
	}

	// leaseOwners answers holder → sessions of the unexpired leases.
	leaseOwners := func() map[string][]string {
		rows, err := pool.Query(ctx, `SELECT holder, session_id::text FROM wa.session_leases WHERE expires_at > now()`)
		require.NoError(t, err)
		defer rows.Close()
		out := map[string][]string{}
		for rows.Next() {
			var h, s string
			require.NoError(t, rows.Scan(&h, &s))
			out[h] = append(out[h], s)
		}
		require.NoError(t, rows.Err())
		return out
	}
	// connectedNow answers device → processes whose logs show it connected.
	connectedNow := func(names []string) map[string][]string {
		out := map[string][]string{}
		for _, name := range names {
			for dev, ivs := range deviceIntervals(t, name, procs[name].Logs(), time.Time{}) {
				for _, iv := range ivs {
					if iv.End.IsZero() {
						out[dev] = append(out[dev], name)
					}
				}
			}
		}
		return out
	}
	// waitSpread waits until the live processes share every session evenly,
	// each one driven (connected) by exactly the process holding its lease.
	waitSpread := func(live []string, within time.Duration) time.Duration {
		t.Helper()
		start := time.Now()
		share := (sessions + len(live) - 1) / len(live)
		for {
			owners, conn := leaseOwners(), connectedNow(live)
			ok := len(conn) == sessions
			held := 0
			for _, name := range live {
				n := len(owners[name])
				held += n
				ok = ok && n >= sessions/len(live) && n <= share
				for _, id := range owners[name] {
					ok = ok && len(conn[devices[id]]) == 1 && conn[devices[id]][0] == name
				}
			}
			ok = ok && held == sessions
			if ok {
				return time.Since(start)
			}
			if time.Since(start) > within {
				t.Fatalf("sessions not spread over %v within %s: leases %v, connected %v", live, within, owners, conn)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	// waitLocalSessions waits until every live process's
	// zapbase_local_sessions{provider="baileys"} equals the leases it holds,
	// and they add up to every session.
	waitLocalSessions := func(live []string) {
		t.Helper()
		deadline := time.Now().Add(15 * time.Second)
		for {
			owners := leaseOwners()
			total, ok := 0.0, true
			got := map[string]float64{}
			for _, name := range live {
				v, found := metricSum(scrape(t, procs[name].BaseURL()), "zapbase_local_sessions", `provider="baileys"`)
				got[name] = v
				total += v
				ok = ok && found && v == float64(len(owners[name]))
			}
			if ok && total == sessions {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("zapbase_local_sessions %v does not match the leases %v", got, owners)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}

	spread := waitSpread(names, 30*time.Second)
	t.Logf("9 sessions spread over 3 processes in %s", spread)
	waitLocalSessions(names)
	var connectedRows int
	require.NoError(t, pool.QueryRow(ctx, `SELECT count(*) FROM public.whatsapp_sessions WHERE tenant_id = $1 AND state = 'connected'`, tenant).Scan(&connectedRows))
	require.Equal(t, sessions, connectedRows, "every session row says connected")

	// SIGKILL one process: no clean release, its leases must expire.
	victim := procs["wa-a"]
	victimSessions := leaseOwners()["wa-a"]
	require.NotEmpty(t, victimSessions)
	victim.Kill()
	killedAt := time.Now()
	moved := waitSpread([]string{"wa-b", "wa-c"}, 30*time.Second)
	t.Logf("the killed process's %d sessions moved in %s", len(victimSessions), moved)
	require.Less(t, moved, 30*time.Second)
	waitLocalSessions([]string{"wa-b", "wa-c"})

	// Graceful stops release at once; then replay every process's log.
	require.NoError(t, procs["wa-c"].Stop(30*time.Second))
	require.NoError(t, procs["wa-b"].Stop(30*time.Second))
	all := map[string][]driveInterval{}
	for _, name := range names {
		end := time.Time{}
		if name == "wa-a" {
			end = killedAt // its sockets died with it
		}
		for dev, ivs := range deviceIntervals(t, name, procs[name].Logs(), end) {
			all[dev] = append(all[dev], ivs...)
		}
	}
	require.Len(t, all, sessions, "every device was driven at some point")
	for dev, ivs := range all {
		sort.Slice(ivs, func(i, j int) bool { return ivs[i].Start.Before(ivs[j].Start) })
		for i := 1; i < len(ivs); i++ {
			prev, cur := ivs[i-1], ivs[i]
			require.False(t, prev.End.IsZero(), "%s: %s never let go but %s connected at %s", dev, prev.Proc, cur.Proc, cur.Start)
			require.False(t, cur.Start.Before(prev.End), "%s driven by %s (%s → %s) and %s (from %s) at once",
				dev, prev.Proc, prev.Start.Format(time.RFC3339Nano), prev.End.Format(time.RFC3339Nano), cur.Proc, cur.Start.Format(time.RFC3339Nano))
		}
	}
	for _, id := range victimSessions {
		ivs := all[devices[id]]
		require.NotEqual(t, "wa-a", ivs[len(ivs)-1].Proc, "a killed process's session was taken over")
	}
}
