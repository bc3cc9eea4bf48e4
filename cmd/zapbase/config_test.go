package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/retention"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// minimalEnv is the smallest environment `serve` accepts (a fresh map).
func minimalEnv() map[string]string {
	return map[string]string{
		"DATABASE_URL":           "postgres://u@localhost:5432/db",
		"SUPABASE_JWT_SECRET":    "0123456789abcdef0123456789abcdef",
		"ZAPBASE_ENCRYPTION_KEY": "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=",
	}
}

func TestLoadConfigNamesTheBadVariable(t *testing.T) {
	t.Parallel()
	good := minimalEnv()
	c, err := LoadConfig(env(good), nil)
	require.NoError(t, err)
	require.Equal(t, c.DatabaseURL, c.ReplicationURL)
	require.Equal(t, "zapbase", c.SlotName)
	require.Equal(t, "v26.0", c.MetaAPIVersion)
	require.EqualValues(t, 4<<20, c.MetaWebhookMaxBytes, "Meta batches of 3 MB fit by default")

	cases := map[string]string{
		"DATABASE_URL":                       "mysql://x",
		"ZAPBASE_ENCRYPTION_KEY":             "short",
		"ZAPBASE_SEND_WAIT":                  "five",
		"ZAPBASE_LOG_LEVEL":                  "loud",
		"ZAPBASE_SLOT_NAME":                  "my_realtime_slot",
		"SUPABASE_JWT_SECRET":                "short",
		"ZAPBASE_SANDBOX":                    "maybe",
		"ZAPBASE_AI_WORKERS":                 "0",
		"ZAPBASE_AI_DEBOUNCE":                "soon",
		"ZAPBASE_AI_DAILY_TOKEN_BUDGET":      "-5",
		"ZAPBASE_AI_MAX_CONSECUTIVE_REPLIES": "0",
		"ZAPBASE_RETENTION_IDEMPOTENCY":      "1h",
		"ZAPBASE_RETENTION_WEBHOOK_INBOX":    "sempre",
		"ZAPBASE_RETENTION_AUDIT_LOG":        "-3d",
		"ZAPBASE_RETENTION_INTERVAL":         "10s",
		"OTEL_EXPORTER_OTLP_ENDPOINT":        "collector:4318",
		"OTEL_EXPORTER_OTLP_PROTOCOL":        "http/json",
		"OTEL_TRACES_EXPORTER":               "zipkin",
		"OTEL_SDK_DISABLED":                  "talvez",
		"ZAPBASE_META_WEBHOOK_MAX_BYTES":     "1048576",
	}
	for k, v := range cases {
		m := map[string]string{}
		for gk, gv := range good {
			m[gk] = gv
		}
		m[k] = v
		_, err := LoadConfig(env(m), nil)
		require.Error(t, err, k)
		require.Contains(t, err.Error(), k)
	}
	_, err = LoadConfig(env(map[string]string{}), nil)
	require.ErrorContains(t, err, "DATABASE_URL")
	require.ErrorContains(t, err, "ZAPBASE_ENCRYPTION_KEY")
}

func TestAIRuntimeConfigFromEnv(t *testing.T) {
	t.Parallel()
	base := minimalEnv()
	c, err := LoadConfig(env(base), nil)
	require.NoError(t, err)
	require.False(t, c.AI.CrashBeforeCommit, "the test hook is off unless explicitly set")
	rc := (&Main{cfg: c}).aiRuntimeConfig()
	require.Zero(t, rc.DebounceWindow, "unset: the runtime's default")
	require.Zero(t, rc.MaxConsecutiveReplies, "unset: the runtime's default")

	base["ZAPBASE_AI_DEBOUNCE"] = "0"
	base["ZAPBASE_AI_DAILY_TOKEN_BUDGET"] = "50000"
	c, err = LoadConfig(env(base), nil)
	require.NoError(t, err)
	rc = (&Main{cfg: c}).aiRuntimeConfig()
	require.Negative(t, rc.DebounceWindow, "0 means no debounce, not the runtime default")
	require.EqualValues(t, 50000, rc.DailyTokenBudget)
}

func TestRetentionConfig(t *testing.T) {
	t.Parallel()
	base := minimalEnv()
	c, err := LoadConfig(env(base), nil)
	require.NoError(t, err)
	require.Equal(t, RetentionConfig{}, c.Retention, "unset: the retention package's defaults (48h replays, 7 days of processed webhooks, the audit log kept)")

	base["ZAPBASE_RETENTION_IDEMPOTENCY"] = "3d"
	base["ZAPBASE_RETENTION_WEBHOOK_INBOX"] = "keep"
	base["ZAPBASE_RETENTION_AUDIT_LOG"] = "365d"
	base["ZAPBASE_RETENTION_INTERVAL"] = "15m"
	c, err = LoadConfig(env(base), nil)
	require.NoError(t, err)
	require.Equal(t, RetentionConfig{Idempotency: 72 * time.Hour, WebhookInbox: retention.KeepForever, AuditLog: 365 * 24 * time.Hour, Interval: 15 * time.Minute}, c.Retention)

	base["ZAPBASE_RETENTION_IDEMPOTENCY"] = "12h"
	_, err = LoadConfig(env(base), nil)
	require.ErrorContains(t, err, "ZAPBASE_RETENTION_IDEMPOTENCY: mínimo de 1d")
}

func TestTracingConfigFromEnv(t *testing.T) {
	t.Parallel()
	load := func(extra map[string]string) Config {
		m := minimalEnv()
		for k, v := range extra {
			m[k] = v
		}
		c, err := LoadConfig(env(m), nil)
		require.NoError(t, err)
		return c
	}
	require.False(t, load(nil).Tracing.Enabled, "off without an endpoint")
	c := load(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
	require.True(t, c.Tracing.Enabled)
	require.Empty(t, c.Tracing.Protocol, "the SDK default (http/protobuf)")
	c = load(map[string]string{"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "https://collector:4317", "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"})
	require.True(t, c.Tracing.Enabled)
	require.Equal(t, "grpc", c.Tracing.Protocol)
	require.False(t, load(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}).Tracing.Enabled)
	require.False(t, load(map[string]string{"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}).Tracing.Enabled)
}

func TestWebhooksConfig(t *testing.T) {
	t.Parallel()
	base := minimalEnv()
	c, err := LoadConfig(env(base), nil)
	require.NoError(t, err)
	require.True(t, c.Webhooks.Enabled)
	require.Equal(t, 250*time.Millisecond, c.Webhooks.PollInterval)
	require.Equal(t, 24*time.Hour, c.Webhooks.RetryFor)
	require.Equal(t, 15*time.Second, c.Webhooks.Timeout)
	require.Empty(t, c.Webhooks.AllowPrivate.AllowPrefixes, "no private target by default")

	base["ZAPBASE_WEBHOOK_ALLOW_PRIVATE"] = "10.0.0.0/8, n8n.internal"
	base["ZAPBASE_WEBHOOK_RETRY_FOR"] = "6h"
	base["ZAPBASE_RETENTION_CHANGE_LOG"] = "7d"
	c, err = LoadConfig(env(base), nil)
	require.NoError(t, err)
	require.Len(t, c.Webhooks.AllowPrivate.AllowPrefixes, 1)
	require.Equal(t, []string{"n8n.internal"}, c.Webhooks.AllowPrivate.AllowHosts)
	require.Equal(t, 6*time.Hour, c.Webhooks.RetryFor)
	require.Equal(t, 7*24*time.Hour, c.Retention.ChangeLog)

	base["ZAPBASE_WEBHOOK_ALLOW_PRIVATE"] = "not a host!"
	base["ZAPBASE_WEBHOOK_WORKERS"] = "0"
	_, err = LoadConfig(env(base), nil)
	require.ErrorContains(t, err, "ZAPBASE_WEBHOOK_ALLOW_PRIVATE")
	require.ErrorContains(t, err, "ZAPBASE_WEBHOOK_WORKERS")
}
