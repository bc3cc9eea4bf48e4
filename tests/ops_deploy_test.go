package tests

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/zapbase/zapbase/metrics"
)

// shutdownTimeout is ZAPBASE_SHUTDOWN_TIMEOUT's default: every orchestrator
// must wait longer than this before SIGKILL.
const shutdownTimeout = 25 * time.Second

func readFile(t *testing.T, rel string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(repoRoot(t), rel))
	require.NoError(t, err)
	return b
}

var metricRef = regexp.MustCompile(`\bzapbase_[a-z0-9_]+\b`)

// requireKnownMetrics fails when an expression names a metric the metrics
// package does not export (a dashboard or alert over a ghost).
func requireKnownMetrics(t *testing.T, where string, exprs []string) map[string]bool {
	t.Helper()
	known := map[string]bool{}
	for _, n := range metrics.SeriesNames() {
		known[n] = true
	}
	used := map[string]bool{}
	for _, e := range exprs {
		for _, name := range metricRef.FindAllString(e, -1) {
			require.True(t, known[name], "%s uses %s, which metrics.Catalog() does not define (expr: %s)", where, name, e)
			used[name] = true
		}
	}
	return used
}

func TestAlertRules(t *testing.T) {
	var doc struct {
		Groups []struct {
			Name  string `yaml:"name"`
			Rules []struct {
				Alert       string            `yaml:"alert"`
				Expr        string            `yaml:"expr"`
				For         string            `yaml:"for"`
				Labels      map[string]string `yaml:"labels"`
				Annotations map[string]string `yaml:"annotations"`
			} `yaml:"rules"`
		} `yaml:"groups"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(readFile(t, "deploy/alerts.yml")))
	dec.KnownFields(true)
	require.NoError(t, dec.Decode(&doc))
	var exprs []string
	alerts := map[string]bool{}
	for _, g := range doc.Groups {
		require.NotEmpty(t, g.Name)
		for _, r := range g.Rules {
			require.NotEmpty(t, r.Alert)
			require.False(t, alerts[r.Alert], "duplicate alert %s", r.Alert)
			alerts[r.Alert] = true
			require.NotEmpty(t, r.Expr, r.Alert)
			_, err := time.ParseDuration(r.For)
			require.NoError(t, err, "%s: for", r.Alert)
			require.Contains(t, []string{"warning", "critical"}, r.Labels["severity"], r.Alert)
			require.NotEmpty(t, r.Annotations["summary"], r.Alert)
			require.NotEmpty(t, r.Annotations["description"], r.Alert)
			exprs = append(exprs, r.Expr)
		}
	}
	used := requireKnownMetrics(t, "deploy/alerts.yml", exprs)
	// The list: slot lag, wal_status, send failures, sessions,
	// webhook backlog, AI errors.
	for _, name := range []string{"zapbase_replication_slot_lag_bytes", "zapbase_replication_slot_wal_status",
		"zapbase_sends_total", "zapbase_sessions", "zapbase_webhook_inbox_backlog", "zapbase_ai_requests_total"} {
		require.True(t, used[name], "no alert over %s", name)
	}
	for _, a := range []string{"ZapbaseSlotWALStatus", "ZapbaseSlotLagHigh", "ZapbaseSendFailureRate",
		"ZapbaseSessionsBlocked", "ZapbaseSessionsDisconnected", "ZapbaseWebhookBacklog", "ZapbaseAIErrorRate"} {
		require.True(t, alerts[a], "missing alert %s", a)
	}
}

func TestGrafanaDashboard(t *testing.T) {
	type target struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	}
	type panel struct {
		ID      int      `json:"id"`
		Type    string   `json:"type"`
		Title   string   `json:"title"`
		Targets []target `json:"targets"`
		Grid    struct {
			H, W, X, Y int
		} `json:"gridPos"`
	}
	var dash struct {
		UID        string  `json:"uid"`
		Title      string  `json:"title"`
		Schema     int     `json:"schemaVersion"`
		Panels     []panel `json:"panels"`
		Templating struct {
			List []struct {
				Name  string `json:"name"`
				Query any    `json:"query"`
			} `json:"list"`
		} `json:"templating"`
		Inputs []struct {
			PluginID string `json:"pluginId"`
		} `json:"__inputs"`
	}
	require.NoError(t, json.Unmarshal(readFile(t, "deploy/grafana-dashboard.json"), &dash))
	require.Equal(t, "zapbase-overview", dash.UID)
	require.NotEmpty(t, dash.Title)
	require.GreaterOrEqual(t, dash.Schema, 36)
	require.Len(t, dash.Inputs, 1)
	require.Equal(t, "prometheus", dash.Inputs[0].PluginID)

	ids := map[int]bool{}
	var exprs []string
	for _, p := range dash.Panels {
		require.False(t, ids[p.ID], "duplicate panel id %d", p.ID)
		ids[p.ID] = true
		require.NotEmpty(t, p.Title)
		require.LessOrEqual(t, p.Grid.X+p.Grid.W, 24, p.Title)
		if p.Type == "row" {
			continue
		}
		require.NotEmpty(t, p.Targets, p.Title)
		for _, tg := range p.Targets {
			require.NotEmpty(t, tg.Expr, p.Title)
			exprs = append(exprs, tg.Expr)
		}
	}
	for _, v := range dash.Templating.List {
		if s, ok := v.Query.(map[string]any); ok {
			exprs = append(exprs, s["query"].(string))
		}
	}
	used := requireKnownMetrics(t, "deploy/grafana-dashboard.json", exprs)
	// The spec's §9 list is on the dashboard.
	for _, name := range []string{"zapbase_sends_total", "zapbase_send_latency_seconds_bucket", "zapbase_sessions",
		"zapbase_provider_routed_total", "zapbase_ai_response_seconds_bucket", "zapbase_replication_slot_lag_bytes",
		"zapbase_listener_lag_bytes", "zapbase_reconcile_found_total", "zapbase_webhook_inbox_backlog",
		"zapbase_dispatch_queue_depth", "zapbase_send_retries_total"} {
		require.True(t, used[name], "dashboard does not show %s", name)
	}
}

// yamlDocs decodes every document of a multi-document YAML file.
func yamlDocs(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var docs []map[string]any
	for {
		var d map[string]any
		err := dec.Decode(&d)
		if errors.Is(err, io.EOF) {
			return docs
		}
		require.NoError(t, err)
		if d != nil {
			docs = append(docs, d)
		}
	}
}

// dig walks nested maps and lists: keys are map keys or list indexes.
func dig(t *testing.T, v any, path ...any) any {
	t.Helper()
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, ok := v.(map[string]any)
			require.True(t, ok, "not a map at %v", p)
			v = m[k]
		case int:
			l, ok := v.([]any)
			require.True(t, ok, "not a list at %v", p)
			require.Less(t, k, len(l))
			v = l[k]
		}
	}
	return v
}

func TestKubernetesManifest(t *testing.T) {
	docs := yamlDocs(t, readFile(t, "deploy/k8s.yaml"))
	kinds := map[string]map[string]any{}
	for _, d := range docs {
		kinds[d["kind"].(string)] = d
	}
	require.Contains(t, kinds, "Deployment")
	require.Contains(t, kinds, "Service")
	dep := kinds["Deployment"]
	require.GreaterOrEqual(t, dig(t, dep, "spec", "replicas").(int), 2)
	pod := dig(t, dep, "spec", "template", "spec")
	grace := dig(t, pod, "terminationGracePeriodSeconds").(int)
	require.Greater(t, time.Duration(grace)*time.Second, shutdownTimeout)
	c := dig(t, pod, "containers", 0)
	require.Equal(t, "/readyz", dig(t, c, "readinessProbe", "httpGet", "path"))
	require.Equal(t, "/healthz", dig(t, c, "livenessProbe", "httpGet", "path"))
	require.Equal(t, "zapbase", dig(t, c, "envFrom", 0, "secretRef", "name"))
	require.Equal(t, true, dig(t, pod, "securityContext", "runAsNonRoot"))
}

func TestDockerCompose(t *testing.T) {
	docs := yamlDocs(t, readFile(t, "docker-compose.yml"))
	require.Len(t, docs, 1)
	services := dig(t, docs[0], "services").(map[string]any)
	require.Contains(t, services, "postgres")
	require.Contains(t, services, "zapbase")
	require.Contains(t, services, "nginx")

	var cmd []string
	for _, a := range dig(t, services, "postgres", "command").([]any) {
		cmd = append(cmd, a.(string))
	}
	require.Contains(t, cmd, "wal_level=logical")

	zb := services["zapbase"].(map[string]any)
	grace, err := time.ParseDuration(zb["stop_grace_period"].(string))
	require.NoError(t, err)
	require.Greater(t, grace, shutdownTimeout)
	env := zb["environment"].(map[string]any)
	require.Contains(t, env["DATABASE_URL"], "@postgres:5432/")
	require.Contains(t, env, "ZAPBASE_ENCRYPTION_KEY")

	// nginx mounts files that exist.
	for _, v := range dig(t, services, "nginx", "volumes").([]any) {
		src := strings.SplitN(v.(string), ":", 2)[0]
		if src == "./deploy/certs" {
			continue // the operator's certificates
		}
		require.FileExists(t, filepath.Join(repoRoot(t), src))
	}
	nginx := string(readFile(t, "deploy/nginx.conf"))
	require.Contains(t, nginx, "proxy_pass http://zapbase;")
	require.Contains(t, nginx, "listen 443 ssl;")
}

func TestFlyConfig(t *testing.T) {
	var fly struct {
		App           string                      `toml:"app"`
		KillSignal    string                      `toml:"kill_signal"`
		KillTimeout   string                      `toml:"kill_timeout"`
		PrimaryRegion string                      `toml:"primary_region"`
		Build         struct{ Dockerfile string } `toml:"build"`
		Deploy        struct{ Strategy string }   `toml:"deploy"`
		Env           map[string]string           `toml:"env"`
		HTTPService   struct {
			InternalPort       int    `toml:"internal_port"`
			ForceHTTPS         bool   `toml:"force_https"`
			AutoStopMachines   string `toml:"auto_stop_machines"`
			AutoStartMachines  bool   `toml:"auto_start_machines"`
			MinMachinesRunning int    `toml:"min_machines_running"`
			Concurrency        map[string]any
			Checks             []struct {
				GracePeriod string `toml:"grace_period"`
				Interval    string
				Method      string
				Path        string
				Timeout     string
			}
		} `toml:"http_service"`
		Metrics struct {
			Port int
			Path string
		} `toml:"metrics"`
		VM []map[string]any `toml:"vm"`
	}
	md, err := toml.Decode(string(readFile(t, "fly.toml")), &fly)
	require.NoError(t, err)
	var undecoded []string
	for _, k := range md.Undecoded() {
		undecoded = append(undecoded, k.String())
	}
	sort.Strings(undecoded)
	require.Empty(t, undecoded, "keys the test does not know (typo?)")

	require.Equal(t, "SIGTERM", fly.KillSignal)
	kill, err := time.ParseDuration(fly.KillTimeout)
	require.NoError(t, err)
	require.Greater(t, kill, shutdownTimeout)
	require.Equal(t, "Dockerfile", fly.Build.Dockerfile)
	require.Equal(t, 8080, fly.HTTPService.InternalPort)
	require.Equal(t, "off", fly.HTTPService.AutoStopMachines, "machines must not stop: the listener and sessions run without HTTP traffic")
	require.GreaterOrEqual(t, fly.HTTPService.MinMachinesRunning, 2)
	require.Len(t, fly.HTTPService.Checks, 1)
	require.Equal(t, "/readyz", fly.HTTPService.Checks[0].Path)
	require.Equal(t, "/metrics", fly.Metrics.Path)
	require.Equal(t, fly.HTTPService.InternalPort, fly.Metrics.Port)
	require.Equal(t, ":8080", fly.Env["ZAPBASE_HTTP_ADDR"])
}

func TestWorkflowRunsTheReadmeTestCommand(t *testing.T) {
	docs := yamlDocs(t, readFile(t, ".github/workflows/test.yml"))
	require.Len(t, docs, 1)
	var runs []string
	for _, s := range dig(t, docs[0], "jobs", "test", "steps").([]any) {
		if r, ok := s.(map[string]any)["run"].(string); ok {
			runs = append(runs, strings.TrimSpace(r))
		}
	}
	require.Contains(t, runs, "./scripts/test")
}
