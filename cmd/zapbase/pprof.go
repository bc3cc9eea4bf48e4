package main

import (
	"errors"
	"net"
	"net/http"
	"net/http/pprof"
	"time"
)

// startPprof serves net/http/pprof on its own listener when
// ZAPBASE_PPROF_ADDR is set (off by default). It is an operator tool: bind
// it to loopback or a private interface, never to the public API address —
// profiles reveal code paths and timings, not secrets, but the endpoint has
// no authentication.
func (m *Main) startPprof() error {
	if m.cfg.PprofAddr == "" {
		return nil
	}
	ln, err := net.Listen("tcp", m.cfg.PprofAddr)
	if err != nil {
		return err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.log.Error("pprof server stopped", "error", err)
		}
	}()
	m.closers = append(m.closers, func() { _ = srv.Close() })
	m.log.Info("pprof listening", "addr", ln.Addr().String())
	return nil
}
