// Package console serves the web console at /console: plain HTML, CSS and
// ES modules embedded in the binary (no build step, no CDN, works offline),
// in Brazilian Portuguese.
//
// The console is a client of the public API like any other: it signs in
// (Supabase Auth, or the link `zapbase dev` prints), sends
// `Authorization: Bearer <JWT>` and `X-Client-Id` on every call, and reads
// live changes from GET /api/v1/events with fetch() (EventSource cannot
// send headers). Production sign-in calls Supabase Auth's REST endpoints
// (POST /auth/v1/token, grant_type password and refresh_token; POST
// /auth/v1/logout) with fetch: those three calls are all the console needs
// of supabase-js, and a vendored bundle would be a 100+ KiB artifact to
// keep in sync for them.
package console

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strings"
)

//go:embed static
var static embed.FS

// Config is what the page needs to sign in.
type Config struct {
	// SupabaseURL is the project URL (https://<ref>.supabase.co); empty
	// disables the e-mail and password form.
	SupabaseURL string
	// PublishableKey is the project's publishable (sb_publishable_…) or
	// legacy anon key, sent as the apikey header to Supabase Auth.
	PublishableKey string
	// Dev marks `zapbase dev`: the page explains the sign-in link.
	Dev bool
}

type pageConfig struct {
	SupabaseURL    string `json:"supabaseUrl,omitempty"`
	PublishableKey string `json:"publishableKey,omitempty"`
	Dev            bool   `json:"dev"`
}

// Handler serves GET /console, /console/ and the embedded files under it.
// Mount it on "GET /console" and "GET /console/".
func Handler(cfg Config) http.Handler {
	files, _ := fs.Sub(static, "static")
	conf, _ := json.Marshal(pageConfig{SupabaseURL: strings.TrimRight(cfg.SupabaseURL, "/"), PublishableKey: cfg.PublishableKey, Dev: cfg.Dev})
	connect := "'self'"
	if u, err := url.Parse(cfg.SupabaseURL); err == nil && u.Scheme != "" && u.Host != "" {
		connect += " " + u.Scheme + "://" + u.Host
	}
	csp := "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' blob: data:; media-src 'self' blob:; " +
		"connect-src " + connect + "; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
	fileServer := http.FileServerFS(files)
	etags := map[string]string{}
	_ = fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if b, err := fs.ReadFile(files, name); err == nil {
				sum := sha256.Sum256(b)
				etags[name] = `"` + hex.EncodeToString(sum[:8]) + `"`
			}
		}
		return nil
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		// The files change with the binary: revalidate, never go stale.
		h.Set("Cache-Control", "no-cache")
		rest := strings.TrimPrefix(r.URL.Path, "/console")
		rest = strings.TrimPrefix(rest, "/")
		switch rest {
		case "":
			if r.URL.Path == "/console/" {
				http.Redirect(w, r, "/console", http.StatusMovedPermanently)
				return
			}
			serveFile(w, r, files, "index.html")
			return
		case "config.json":
			h.Set("Content-Type", "application/json")
			_, _ = w.Write(conf)
			return
		case "index.html":
			http.Redirect(w, r, "/console", http.StatusMovedPermanently)
			return
		}
		if strings.Contains(rest, "..") || path.Clean("/"+rest) != "/"+rest {
			http.NotFound(w, r)
			return
		}
		etag, ok := etags[rest]
		if !ok {
			http.NotFound(w, r)
			return
		}
		// ServeContent answers If-None-Match with 304 from this ETag.
		h.Set("ETag", etag)
		r2 := r.Clone(r.Context())
		r2.URL.Path = "/" + rest
		fileServer.ServeHTTP(w, r2)
	})
}

func serveFile(w http.ResponseWriter, r *http.Request, files fs.FS, name string) {
	b, err := fs.ReadFile(files, name)
	if err != nil {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_, _ = w.Write(b)
}
