package api

import (
	"bytes"
	"compress/gzip"
	"embed"
	"net/http"
	"path"
	"strings"
	"sync"
)

// docsFS holds the Scalar page and its vendored bundle (no CDN: /docs works
// offline). See docs/VERSION for the bundle's origin.
//
//go:embed docs/index.html docs/init.js docs/scalar-standalone.js
var docsFS embed.FS

// docsCSP allows only same-origin scripts; Scalar injects its styles.
const docsCSP = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; " +
	"font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; frame-ancestors 'none'"

func docsPage(w http.ResponseWriter, r *http.Request) {
	b, _ := docsFS.ReadFile("docs/index.html")
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", docsCSP)
	w.Header().Set("Cache-Control", "no-cache")
	_, _ = w.Write(b)
}

var (
	gzOnce  sync.Once
	gzFiles = map[string][]byte{}
)

// docsAsset serves the embedded JS, pre-compressed once (the bundle is
// several MiB).
func docsAsset(w http.ResponseWriter, r *http.Request) {
	name := path.Base(r.PathValue("file"))
	if name != "init.js" && name != "scalar-standalone.js" {
		writeProblem(w, r, errNotFound("not_found", "Recurso não encontrado: "+r.URL.Path))
		return
	}
	b, err := docsFS.ReadFile("docs/" + name)
	if err != nil {
		writeProblem(w, r, Internal(err))
		return
	}
	w.Header().Set("Content-Type", "text/javascript; charset=utf-8")
	w.Header().Set("Cache-Control", "public, max-age=3600")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	if acceptsGzip(r) && strings.HasSuffix(name, ".js") {
		gzOnce.Do(func() {
			for _, n := range []string{"init.js", "scalar-standalone.js"} {
				raw, _ := docsFS.ReadFile("docs/" + n)
				var buf bytes.Buffer
				zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
				_, _ = zw.Write(raw)
				_ = zw.Close()
				gzFiles[n] = buf.Bytes()
			}
		})
		w.Header().Set("Content-Encoding", "gzip")
		w.Header().Add("Vary", "Accept-Encoding")
		_, _ = w.Write(gzFiles[name])
		return
	}
	_, _ = w.Write(b)
}
