package console_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/console"
)

func get(t *testing.T, h http.Handler, path string, hdr map[string]string) *http.Response {
	t.Helper()
	req := httptest.NewRequest(http.MethodGet, path, nil)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec.Result()
}

func TestHandlerServesEmbeddedConsole(t *testing.T) {
	h := console.Handler(console.Config{SupabaseURL: "https://abc.supabase.co/", PublishableKey: "sb_publishable_x"})

	res := get(t, h, "/console", nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	body, _ := io.ReadAll(res.Body)
	require.Contains(t, string(body), `<html lang="pt-BR">`)
	require.Contains(t, string(body), `src="/console/app.js"`)
	require.NotContains(t, string(body), "https://", "no external asset")
	csp := res.Header.Get("Content-Security-Policy")
	require.Contains(t, csp, "script-src 'self'")
	require.Contains(t, csp, "connect-src 'self' https://abc.supabase.co", "sign-in may reach the project's Auth only")
	require.Contains(t, csp, "frame-ancestors 'none'")

	res = get(t, h, "/console/config.json", nil)
	var cfg map[string]any
	require.NoError(t, json.NewDecoder(res.Body).Decode(&cfg))
	require.Equal(t, map[string]any{"supabaseUrl": "https://abc.supabase.co", "publishableKey": "sb_publishable_x", "dev": false}, cfg)

	res = get(t, h, "/console/app.js", nil)
	require.Equal(t, http.StatusOK, res.StatusCode)
	require.Contains(t, res.Header.Get("Content-Type"), "javascript")
	etag := res.Header.Get("ETag")
	require.NotEmpty(t, etag)
	require.Equal(t, http.StatusNotModified, get(t, h, "/console/app.js", map[string]string{"If-None-Match": etag}).StatusCode)

	for _, bad := range []string{"/console/nope.js", "/console/../console.go", "/console/static/app.js", "/console//app.js"} {
		require.Equal(t, http.StatusNotFound, get(t, h, bad, nil).StatusCode, bad)
	}
	res = get(t, h, "/console/", nil)
	require.Equal(t, http.StatusMovedPermanently, res.StatusCode)
	require.Equal(t, "/console", res.Header.Get("Location"))
}

// TestEveryModuleIsEmbedded: each module app.js imports (transitively) is
// served, so the page never depends on a file left out of the embed.
func TestEveryModuleIsEmbedded(t *testing.T) {
	h := console.Handler(console.Config{Dev: true})
	seen := map[string]bool{}
	var walk func(name string)
	walk = func(name string) {
		if seen[name] {
			return
		}
		seen[name] = true
		res := get(t, h, "/console/"+name, nil)
		require.Equal(t, http.StatusOK, res.StatusCode, name)
		b, _ := io.ReadAll(res.Body)
		for _, line := range strings.Split(string(b), "\n") {
			if i := strings.Index(line, "from './"); i >= 0 && strings.HasPrefix(strings.TrimSpace(line), "import") {
				rest := line[i+len("from './"):]
				walk(rest[:strings.IndexByte(rest, '\'')])
			}
		}
	}
	walk("app.js")
	require.GreaterOrEqual(t, len(seen), 7, "app, api, dom, labels and the four pages")
	for _, f := range []string{"app.css", "icon.svg"} {
		require.Equal(t, http.StatusOK, get(t, h, "/console/"+f, nil).StatusCode, f)
	}
}
