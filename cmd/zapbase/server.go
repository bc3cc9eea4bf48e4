package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/zapbase/zapbase/startstop"
)

// httpServer is the HTTP API as a component: Start listens (failing fast
// when the address is taken) and serves in the background; Stop shuts down
// gracefully within the shutdown timeout. Each run serves on a fresh
// http.Server (they are single-use), so it starts again after a Stop.
type httpServer struct {
	startstop.BaseStartStop

	addr            string
	shutdownTimeout time.Duration
	log             *slog.Logger
	handler         http.Handler
	// onShutdown, when set, runs as the server begins shutting down
	// (http.Server.RegisterOnShutdown): long-lived streams end there.
	onShutdown func()

	mu sync.Mutex
	ln net.Listener
}

// newServer is the http.Server of one run.
func (s *httpServer) newServer() *http.Server {
	srv := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		WriteTimeout:      90 * time.Second,
		IdleTimeout:       120 * time.Second,
	}
	if s.onShutdown != nil {
		srv.RegisterOnShutdown(s.onShutdown)
	}
	return srv
}

// Start implements component.
func (s *httpServer) Start(ctx context.Context) error {
	ctx, shouldStart, started, stopped := s.StartInit(ctx)
	if !shouldStart {
		return nil
	}
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		stopped()
		return fmt.Errorf("listen on %s: %w", s.addr, err)
	}
	s.mu.Lock()
	s.ln = ln
	s.mu.Unlock()
	srv := s.newServer()
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("http server stopped", "error", err)
		}
	}()
	s.log.Info("http listening", "addr", ln.Addr().String())
	go func() {
		started()
		defer stopped()
		<-ctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), s.shutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			s.log.Warn("http shutdown", "error", err)
		}
		<-served
	}()
	return nil
}

// Stop implements component.
func (s *httpServer) Stop() { s.BaseStartStop.Stop() }

// Addr is the address listened on ("" before Start).
func (s *httpServer) Addr() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}
