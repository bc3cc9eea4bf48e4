// Package api is zapbase's HTTP surface: /api/v1 (sessions, messages,
// agents, tenant settings, webhooks), OpenAPI 3.1 and the Scalar page at
// /docs, /metrics, and the health endpoints.
package api

import (
	"context"
	"encoding/json"
	"net/http"
	"time"
)

// ReadyCheck reports whether one dependency is ready; a non-nil error names
// what is not (never secrets).
type ReadyCheck struct {
	Name  string
	Check func(ctx context.Context) error
}

// healthHandler answers liveness: the process is up.
func healthHandler(w http.ResponseWriter, _ *http.Request) {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// readyHandler answers readiness: every check passes (database reachable,
// migrations current, ...). 503 with the failing checks otherwise.
func readyHandler(checks []ReadyCheck) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
		defer cancel()
		result := map[string]string{}
		ok := true
		for _, c := range checks {
			if err := c.Check(ctx); err != nil {
				ok = false
				result[c.Name] = err.Error()
			} else {
				result[c.Name] = "ok"
			}
		}
		status := http.StatusOK
		if !ok {
			status = http.StatusServiceUnavailable
		}
		writeJSON(w, status, map[string]any{"ready": ok, "checks": result})
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
