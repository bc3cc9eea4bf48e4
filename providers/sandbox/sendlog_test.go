package sandbox_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/providers/sandbox"
)

// TestSendLogSurvivesReopen: calls recorded by two successive "processes"
// (open, record, close without ceremony) are all read back in order, and a
// torn last line is ignored.
func TestSendLogSurvivesReopen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sends.log")
	first, err := sandbox.OpenSendLog(path)
	require.NoError(t, err)
	first.Record(providers.OutboundMessage{RowID: "row-1", ProviderMessageID: "SBXAA", Attempt: 1})
	first.Record(providers.OutboundMessage{RowID: "row-2", Attempt: 1})
	require.NoError(t, first.Close())

	second, err := sandbox.OpenSendLog(path)
	require.NoError(t, err)
	second.Record(providers.OutboundMessage{RowID: "row-1", ProviderMessageID: "SBXAA", Attempt: 2})
	require.NoError(t, second.Close())

	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	_, err = f.WriteString("1700000000000000000 row-3")
	require.NoError(t, err)
	require.NoError(t, f.Close())

	got, err := sandbox.ReadSendLog(path)
	require.NoError(t, err)
	require.Len(t, got, 3)
	require.Equal(t, "row-1", got[0].RowID)
	require.Equal(t, "SBXAA", got[0].ProviderMessageID)
	require.Equal(t, 1, got[0].Attempt)
	require.Equal(t, "row-2", got[1].RowID)
	require.Empty(t, got[1].ProviderMessageID)
	require.Equal(t, "SBXAA", got[2].ProviderMessageID)
	require.Equal(t, 2, got[2].Attempt)
	require.False(t, got[2].At.Before(got[0].At), "calls are in time order")
}
