package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestDoctorReadyProbe(t *testing.T) {
	t.Parallel()
	ready := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/readyz" && ready {
			w.WriteHeader(http.StatusOK)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer srv.Close()
	ctx := context.Background()
	noEnv := env(map[string]string{})
	require.NoError(t, runDoctor(ctx, []string{"--ready-url", srv.URL + "/readyz"}, noEnv, &bytes.Buffer{}))
	err := runDoctor(ctx, []string{"--ready-url", srv.URL + "/other"}, noEnv, &bytes.Buffer{})
	require.ErrorContains(t, err, "HTTP 503")
	srv.Close()
	require.Error(t, runDoctor(ctx, []string{"--ready-url", srv.URL + "/readyz"}, noEnv, &bytes.Buffer{}))
}

func TestDoctorNeedsDatabaseURL(t *testing.T) {
	t.Parallel()
	err := runDoctor(context.Background(), nil, env(map[string]string{}), &bytes.Buffer{})
	require.ErrorContains(t, err, "DATABASE_URL")
}

func TestDoctorExitsNonZeroWhenBlocking(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	err := runDoctor(context.Background(), nil, env(map[string]string{
		"DATABASE_URL": "postgres://nobody:s3cr3t-pass@127.0.0.1:1/none?connect_timeout=2",
	}), &out)
	require.ErrorIs(t, err, errDoctorBlocking)
	require.Contains(t, out.String(), "✗ Conexão com o banco")
	require.NotContains(t, out.String(), "s3cr3t-pass")
}
