package meta

import (
	"encoding/json"
	"net/http"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func TestTransferDeadlineScalesWithSize(t *testing.T) {
	t.Parallel()
	small := transferDeadline(300 << 10)
	big := transferDeadline(100 << 20)
	require.Greater(t, big, small)
	require.Greater(t, big, 10*time.Minute, "a 100 MB document is not cut at 30 s")
	require.Equal(t, big, transferDeadline(0), "unknown size: the largest Meta accepts")
	require.GreaterOrEqual(t, small, transferBase)
}

func TestTransfersDoNotInheritTheJSONTimeout(t *testing.T) {
	t.Parallel()
	c := NewClient(ClientConfig{HTTPClient: &http.Client{Timeout: 30 * time.Second}})
	require.Equal(t, 30*time.Second, c.http.Timeout)
	require.Zero(t, c.transfer.Timeout, "media transfers are bounded by transferDeadline instead")
	require.Equal(t, "v26.0", NewClient(ClientConfig{}).version)
}

func TestFileSizeStringOrNumber(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"testdata/media_get_response_file_size_string.json", "metafake/fixtures/media_get_response.json"} {
		b, err := os.ReadFile(name)
		require.NoError(t, err)
		var info mediaInfo
		require.NoError(t, json.Unmarshal(b, &info), name)
		require.EqualValues(t, 303833, info.FileSize, name)
		require.NotEmpty(t, info.URL)
	}
	var info mediaInfo
	require.NoError(t, json.Unmarshal([]byte(`{"url":"u","file_size":{"odd":1}}`), &info), "an odd shape never fails a download")
	require.Zero(t, info.FileSize)
}
