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
