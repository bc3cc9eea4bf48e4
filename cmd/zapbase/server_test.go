package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/startstop/startstoptest"
)

// TestHTTPServerStartStopStress starts and stops the API's server from many
// goroutines under the race detector; a later start serves again.
func TestHTTPServerStartStopStress(t *testing.T) {
	s := &httpServer{addr: "127.0.0.1:0", shutdownTimeout: 5 * time.Second, log: slog.New(slog.DiscardHandler),
		handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = io.WriteString(w, "ok") })}
	startstoptest.Stress(context.Background(), t, s)

	require.NoError(t, s.Start(context.Background()))
	t.Cleanup(s.Stop)
	res, err := http.Get("http://" + s.Addr() + "/")
	require.NoError(t, err)
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	require.Equal(t, "ok", string(b))
}

func TestHTTPServerStartFailsFastOnBusyAddress(t *testing.T) {
	a := &httpServer{addr: "127.0.0.1:0", shutdownTimeout: time.Second, log: slog.New(slog.DiscardHandler), handler: http.NotFoundHandler()}
	require.NoError(t, a.Start(context.Background()))
	t.Cleanup(a.Stop)
	b := &httpServer{addr: a.Addr(), shutdownTimeout: time.Second, log: slog.New(slog.DiscardHandler), handler: http.NotFoundHandler()}
	require.ErrorContains(t, b.Start(context.Background()), "listen on")
	require.False(t, b.Running())
}
