package whatsmeow

import (
	"context"
	"errors"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow/store"
)

// Not parallel: the advertised version is process-global in whatsmeow.
func TestSyncWAVersion(t *testing.T) {
	builtin := store.GetWAVersion()
	t.Cleanup(func() { store.SetWAVersion(builtin) })
	log := slog.New(slog.DiscardHandler)

	// No network: the fetch fails and the built-in version stays.
	res := SyncWAVersion(context.Background(), func(context.Context) (string, error) {
		return "", errors.New("dial tcp: lookup web.whatsapp.com: no such host")
	}, 0, log)
	require.Error(t, res.Err)
	require.False(t, res.Changed)
	require.Equal(t, builtin.String(), res.Using)
	require.Equal(t, builtin, store.GetWAVersion())

	// A garbage answer is a failure too.
	res = SyncWAVersion(context.Background(), func(context.Context) (string, error) { return "2.x", nil }, 0, log)
	require.Error(t, res.Err)
	require.Equal(t, builtin, store.GetWAVersion())

	// The same version: nothing changes.
	res = SyncWAVersion(context.Background(), func(context.Context) (string, error) { return builtin.String(), nil }, 0, log)
	require.NoError(t, res.Err)
	require.False(t, res.Changed)

	// A newer version is advertised from then on.
	newer := store.WAVersionContainer{builtin[0], builtin[1], builtin[2] + 1}
	res = SyncWAVersion(context.Background(), func(context.Context) (string, error) { return newer.String(), nil }, 0, log)
	require.NoError(t, res.Err)
	require.True(t, res.Changed)
	require.Equal(t, newer.String(), res.Using)
	require.Equal(t, newer, store.GetWAVersion())
}
