package api

import (
	"log/slog"
	"net/http"

	"github.com/jackc/pgx/v5/pgxpool"
)

// Params wire the HTTP surface.
type Params struct {
	Pool        *pgxpool.Pool
	Logger      *slog.Logger
	ReadyChecks []ReadyCheck
}

// NewHandler returns the root HTTP handler.
func NewHandler(p Params) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", healthHandler)
	mux.HandleFunc("GET /readyz", readyHandler(p.ReadyChecks))
	return mux
}
