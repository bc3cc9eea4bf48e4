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
// gracefully within the shutdown timeout. Unlike the other components it
// does not start again after a Stop (net/http servers are single-use).
type httpServer struct {
	startstop.BaseStartStop

	addr            string
	shutdownTimeout time.Duration
	log             *slog.Logger
	server          *http.Server

	mu sync.Mutex
	ln net.Listener
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
	served := make(chan struct{})
	go func() {
		defer close(served)
		if err := s.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
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
		if err := s.server.Shutdown(sctx); err != nil {
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
