package meta_test

import (
	"bytes"
	"crypto/rand"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers/meta/metafake"
)

const (
	imageWAMID = "wamid.HBgNNTUxMTk5OTk5OTk5ORUCABIYFDNBQjZFMTBGOTJDNDdENTgzRTBBAA==" // webhook_image.json
	imageID    = "1479537139650973"
)

func (e *env) retryInbox() {
	e.t.Helper()
	_, err := e.pool.Exec(e.ctx, `UPDATE wa.webhook_inbox SET next_attempt_at = now() WHERE processed_at IS NULL`)
	require.NoError(e.t, err)
	e.drain()
}

// Rate limits (4, 80007, 130429 arrive as HTTP 400) and token errors (190,
// HTTP 401) on GET /{media-id} are classified like sends: retried with the
// inbox backoff, the row visible meanwhile and completed by the retry.
func TestInboundMediaErrorsClassifiedLikeSends(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name    string
		outcome metafake.Outcome
	}{
		{"app rate limit 4 (HTTP 400)", metafake.Outcome{Status: 400, Body: testdata(t, "error_4_app_rate_limit.json")}},
		{"WABA rate limit 80007 (HTTP 400)", metafake.Outcome{Status: 400, Body: testdata(t, "error_80007.json")}},
		{"throughput 130429 (HTTP 400)", metafake.ErrorOutcome("error_130429.json", 400)},
		{"token 190 (HTTP 401)", metafake.ErrorOutcome("error_190_token_expired.json", 401)},
		{"unknown code marked is_transient", metafake.Outcome{Status: 400, Body: testdata(t, "error_unknown_transient.json")}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, envOpts{})
			e.fake.AddMedia(imageID, metafake.Media{Data: []byte("jpeg-bytes"), MimeType: "image/jpeg"})
			e.fake.ScriptMediaLookup(c.outcome)
			e.deliver(metafake.Fixture("webhook_image.json"))
			r := e.message(imageWAMID)
			require.Equal(t, "media_download_pending", *r.ErrorCode, "not dropped for good")
			require.Equal(t, imageID, r.Content["mediaId"])
			require.Equal(t, 1, e.count(`SELECT count(*) FROM wa.webhook_inbox WHERE processed_at IS NULL AND last_error IS NOT NULL`))

			e.retryInbox()
			r = e.message(imageWAMID)
			require.Nil(t, r.ErrorCode)
			require.NotEmpty(t, r.Content["mediaUrl"])
			require.EqualValues(t, len("jpeg-bytes"), r.Content["sizeBytes"])
			e.allProcessed()
		})
	}
}

// A permanent error (an unknown or expired media id: 100) is recorded on
// the row; the row keeps its media id and RedownloadMedia fetches it later.
func TestInboundMediaPermanentFailureIsRedownloadable(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	e.deliver(metafake.Fixture("webhook_image.json")) // media unknown to the fake: 100
	r := e.message(imageWAMID)
	require.Equal(t, "media_download_failed", *r.ErrorCode)
	require.Contains(t, *r.ErrorReason, "Parâmetro inválido")
	e.allProcessed()

	e.fake.AddMedia(imageID, metafake.Media{Data: []byte("jpeg-bytes"), MimeType: "image/jpeg"})
	require.NoError(t, e.prov.RedownloadMedia(e.ctx, e.tenantID, imageWAMID))
	r = e.message(imageWAMID)
	require.Nil(t, r.ErrorCode)
	require.Nil(t, r.ErrorReason)
	require.NotEmpty(t, r.Content["mediaUrl"])
	data, err := os.ReadFile(e.mediaDir + "/" + e.tenantID + "/meta/" + imageID + ".jpg")
	require.NoError(t, err)
	require.Equal(t, "jpeg-bytes", string(data))

	// Another tenant cannot re-download this tenant's message.
	other := e.newTenant("globex")
	require.Error(t, e.prov.RedownloadMedia(e.ctx, other, imageWAMID))
}

// A large document is streamed to the store (file_size answered as Meta's
// string), complete and byte-identical; a reprocessed payload does not
// download it again.
func TestLargeInboundMediaIsStreamed(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	big := make([]byte, 24<<20)
	_, _ = rand.Read(big)
	e.fake.AddMedia(imageID, metafake.Media{Data: big, MimeType: "image/jpeg"})
	e.deliver(metafake.Fixture("webhook_image.json"))
	r := e.message(imageWAMID)
	require.Nil(t, r.ErrorCode)
	require.EqualValues(t, len(big), r.Content["sizeBytes"])
	data, err := os.ReadFile(e.mediaDir + "/" + e.tenantID + "/meta/" + imageID + ".jpg")
	require.NoError(t, err)
	require.True(t, bytes.Equal(big, data))
	entries, err := os.ReadDir(e.mediaDir + "/" + e.tenantID + "/meta")
	require.NoError(t, err)
	require.Len(t, entries, 1, "no partial file left behind")

	downloads := func() int {
		n := 0
		for _, q := range e.fake.Requests() {
			if q.Method == http.MethodGet && len(q.Path) > 10 && q.Path[:10] == "/download/" {
				n++
			}
		}
		return n
	}
	require.Equal(t, 1, downloads())
	_, err = e.pool.Exec(e.ctx, `UPDATE wa.webhook_inbox SET processed_at = NULL, next_attempt_at = now()`)
	require.NoError(t, err)
	e.drain()
	require.Equal(t, 1, downloads(), "already stored: not downloaded again")
}

// countingReader hands out size bytes of a repeating pattern, so a large
// upload is produced on the fly and never exists as one slice.
type countingReader struct {
	left int64
	read int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	if r.left == 0 {
		return 0, io.EOF
	}
	n := int64(len(p))
	if n > r.left {
		n = r.left
	}
	for i := range p[:n] {
		p[i] = byte((r.read + int64(i)) % 251)
	}
	r.left -= n
	r.read += n
	return int(n), nil
}

// UploadMediaStream sends a large file as a multipart stream read from the
// caller's reader (Meta gets every byte, in order).
func TestUploadMediaStream(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	const size = 15 << 20 // a 15 MB video (Meta's limit: 16 MB)
	src := &countingReader{left: size}
	id, err := e.prov.UploadMediaStream(e.ctx, e.session, "video/mp4", src, size)
	require.NoError(t, err)
	require.NotEmpty(t, id)
	require.EqualValues(t, size, src.read)
	var up *metafake.Request
	for _, r := range e.fake.Requests() {
		if strings.HasSuffix(r.Path, "/"+pnid+"/media") {
			up = &r
		}
	}
	require.NotNil(t, up)
	require.Len(t, up.File, size)
	want := make([]byte, size)
	_, _ = io.ReadFull(&countingReader{left: size}, want)
	require.True(t, bytes.Equal(want, up.File))
	require.Equal(t, "video/mp4", up.Form["type"])

	_, err = e.prov.UploadMediaStream(e.ctx, e.session, "video/mp4", &countingReader{left: 17 << 20}, 17<<20)
	require.Equal(t, zapbase.CodeInvalidInput, zapbase.ErrorCode(err), "over Meta's limit, refused before sending")
}

// A transfer longer than the inbox lease extends it first, so no other
// replica claims the payload while the download runs.
func TestLargeMediaTransferExtendsTheInboxLease(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	e.fake.AddMedia(imageID, metafake.Media{Data: make([]byte, 8<<20), MimeType: "image/jpeg"})
	leases := make(chan float64, 1)
	e.fake.OnDownload(func(string) {
		var secs float64
		err := e.pool.QueryRow(e.ctx, `SELECT extract(epoch FROM next_attempt_at - now()) FROM wa.webhook_inbox WHERE processed_at IS NULL`).Scan(&secs)
		if err == nil {
			leases <- secs
		}
	})
	e.deliver(metafake.Fixture("webhook_image.json"))
	secs := <-leases
	require.Greater(t, secs, 90.0, "8 MB at the minimum rate needs more than the 1-minute lease")
	e.allProcessed()
}
