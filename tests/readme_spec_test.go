package tests

import (
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

var exportRe = regexp.MustCompile(`export DB='([^']+)' ADMIN=(\S+) ZB=(\S+) TOKEN=(\S+) COLEGA=(\S+) COLEGA_TOKEN=(\S+)`)

// TestDevHelpExitsCleanly: `zapbase dev --help` prints its options and
// exits 0, without Go's "flag: help requested".
func TestDevHelpExitsCleanly(t *testing.T) {
	t.Parallel()
	out, err := exec.Command(zapbaseBin, "dev", "--help").CombinedOutput()
	require.NoError(t, err, string(out))
	require.Contains(t, string(out), "uso: zapbase dev")
	require.Contains(t, string(out), "-addr")
	require.NotContains(t, string(out), "flag: help requested")
}

// TestREADMESpecExamplesRunAgainstDev runs the README's block of the
// original spec's examples verbatim (curl made to fail on HTTP errors)
// against a fresh `zapbase dev`, with exactly the variables of the banner's
// export line, then checks what they did in the database.
func TestREADMESpecExamplesRunAgainstDev(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	s := string(readme)
	begin := strings.Index(s, "<!-- exemplos-da-especificacao:inicio -->")
	end := strings.Index(s, "<!-- exemplos-da-especificacao:fim -->")
	require.True(t, begin > 0 && end > begin, "the README marks its spec examples")
	block := s[begin:end]
	block = block[strings.Index(block, "```sh\n")+len("```sh\n") : strings.LastIndex(block, "```")]

	p := Start(t, map[string]string{"__DIR": t.TempDir()}, "dev", "--addr", "127.0.0.1:0", "--pg-port", "0")
	m := exportRe.FindStringSubmatch(p.Logs())
	require.NotNil(t, m, "the banner prints one export line with DB, ADMIN, ZB, TOKEN (and the second user)")
	require.Equal(t, p.BaseURL(), m[3], "ZB is the address actually served")
	require.Contains(t, p.Logs(), `curl -s -X POST $ZB/api/v1/admin/tenants/demo/members -H "Authorization: Bearer $ADMIN"`,
		"the banner shows one admin-token example")

	ctx := withTimeout(t, 2*time.Minute)
	script := "set -euo pipefail\ncurl() { command curl --fail-with-body --max-time 30 \"$@\"; echo; }\n" + block
	cmd := exec.CommandContext(ctx, "bash", "-c", script)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"DB=" + m[1], "ADMIN=" + m[2], "ZB=" + m[3], "TOKEN=" + m[4], "COLEGA=" + m[5], "COLEGA_TOKEN=" + m[6]}
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "README spec examples failed:\n%s", out)
	require.Contains(t, string(out), `"agentId":"real_estate_agent"`)
	require.Contains(t, string(out), `"deliveryStatus"`)

	conn, err := pgx.Connect(ctx, m[1])
	require.NoError(t, err)
	defer conn.Close(context.Background())
	var temp float64
	var isDefault bool
	var defaultInSettings string
	require.NoError(t, conn.QueryRow(ctx, `
SELECT (a.configuration #>> '{responseSettings,temperature}')::float8, a.is_default, t.settings #>> '{ai,defaultAgentId}'
  FROM ai_agents a JOIN tenants t ON t.id = a.tenant_id WHERE t.client_id = 'demo' AND a.slug = 'real_estate_agent'`).Scan(&temp, &isDefault, &defaultInSettings))
	require.Zero(t, temp)
	require.True(t, isDefault)
	var agentID string
	require.NoError(t, conn.QueryRow(ctx, `SELECT id::text FROM ai_agents WHERE slug = 'real_estate_agent'`).Scan(&agentID))
	require.Equal(t, agentID, defaultInSettings)
	var members, enableAI int
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM tenant_members m JOIN tenants t ON t.id = m.tenant_id WHERE t.client_id = 'demo'`).Scan(&members))
	require.Equal(t, 2, members, "the admin example added the second user")
	require.NoError(t, conn.QueryRow(ctx, `SELECT count(*) FROM messages WHERE enable_ai AND agent_id::text = $1 AND to_number = '5511944443333'`, agentID).Scan(&enableAI))
	require.Equal(t, 1, enableAI)
}

// shBlock returns the first ```sh block after heading in the README.
func shBlock(t *testing.T, readme, heading string) string {
	t.Helper()
	i := strings.Index(readme, heading)
	require.True(t, i >= 0, "README has %q", heading)
	rest := readme[i:]
	start := strings.Index(rest, "```sh\n")
	require.True(t, start >= 0)
	rest = rest[start+len("```sh\n"):]
	return rest[:strings.Index(rest, "```")]
}

// TestREADMENewcomerPathInOrder follows the newcomer path as printed:
// `zapbase dev`, the banner's "Experimente" commands verbatim (its export
// line included), then the README's AI example verbatim; the agent answers
// the README's contact (a manual send to the banner's contact does not
// silence it).
func TestREADMENewcomerPathInOrder(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	require.NoError(t, err)
	p := Start(t, map[string]string{"__DIR": t.TempDir()}, "dev", "--addr", "127.0.0.1:0", "--pg-port", "0")
	logs := p.Logs()
	m := exportRe.FindStringSubmatch(logs)
	require.NotNil(t, m)
	i := strings.Index(logs, "Experimente")
	j := strings.Index(logs, "Ctrl-C encerra")
	require.True(t, i > 0 && j > i, "the banner has an Experimente block")
	banner := logs[strings.Index(logs[i:], "\n")+i : j]

	ctx := withTimeout(t, 2*time.Minute)
	run := func(name, script string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, "bash", "-c", "set -euo pipefail\ncurl() { command curl --fail-with-body --max-time 30 \"$@\"; echo; }\n"+script)
		cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
			"DB=" + m[1], "ADMIN=" + m[2], "ZB=" + m[3], "TOKEN=" + m[4], "COLEGA=" + m[5], "COLEGA_TOKEN=" + m[6]}
		out, err := cmd.CombinedOutput()
		require.NoError(t, err, "%s failed:\n%s", name, out)
		return string(out)
	}
	run("banner commands", banner)
	run("README AI example", shBlock(t, string(readme), "### Um agente de IA respondendo no `zapbase dev`"))

	conn, err := pgx.Connect(ctx, m[1])
	require.NoError(t, err)
	defer conn.Close(context.Background())
	require.Eventually(t, func() bool {
		var n int
		err := conn.QueryRow(ctx, `SELECT count(*) FROM messages WHERE direction = 'outbound' AND to_number = '5511944443333'
   AND agent_id IS NOT NULL AND status IN ('sent', 'delivered', 'read')`).Scan(&n)
		return err == nil && n == 1
	}, 60*time.Second, 200*time.Millisecond, "the agent answers the README's contact\n%s", tail(p.Logs(), 4000))
}
