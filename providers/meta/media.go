package meta

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
)

// MediaStore is the providers' (one seam for every provider);
// LocalMediaStore implements it in dev and tests.
type MediaStore = providers.MediaStore

// MediaStreamStore is a MediaStore that stores from a reader, so a large
// download goes to its destination without being held in memory. Stores
// without it get the bytes in one slice (bounded by MaxMediaBytes).
type MediaStreamStore interface {
	MediaStore
	PutStream(ctx context.Context, tenantID, name, mimeType string, r io.Reader) (url string, n int64, err error)
}

// LocalMediaStore writes media to a directory: Dir/<tenant>/<name>. URLs
// are BaseURL/<tenant>/<name>, or file:// paths without BaseURL.
type LocalMediaStore struct {
	Dir     string
	BaseURL string
}

var _ MediaStreamStore = LocalMediaStore{}

var safeName = regexp.MustCompile(`^[A-Za-z0-9._/-]+$`)

func (s LocalMediaStore) path(tenantID, name string) (string, error) {
	if !safeName.MatchString(tenantID) || !safeName.MatchString(name) || strings.Contains(name, "..") || strings.Contains(tenantID, "..") {
		return "", fmt.Errorf("local media store: unsafe name %q", name)
	}
	return filepath.Join(s.Dir, tenantID, filepath.FromSlash(name)), nil
}

func (s LocalMediaStore) url(tenantID, name, path string) string {
	if s.BaseURL != "" {
		return strings.TrimRight(s.BaseURL, "/") + "/" + url.PathEscape(tenantID) + "/" + name
	}
	return "file://" + path
}

// Put implements MediaStore.
func (s LocalMediaStore) Put(ctx context.Context, tenantID, name, mimeType string, data []byte) (string, error) {
	u, _, err := s.PutStream(ctx, tenantID, name, mimeType, bytes.NewReader(data))
	return u, err
}

// PutStream implements MediaStreamStore: the file is written under a
// temporary name and renamed when complete, so a cut transfer never
// leaves a partial file behind.
func (s LocalMediaStore) PutStream(_ context.Context, tenantID, name, _ string, r io.Reader) (string, int64, error) {
	path, err := s.path(tenantID, name)
	if err != nil {
		return "", 0, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return "", 0, fmt.Errorf("local media store: %w", err)
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".part-*")
	if err != nil {
		return "", 0, fmt.Errorf("local media store: %w", err)
	}
	n, err := io.Copy(f, r)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o640)
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return "", 0, fmt.Errorf("local media store: %w", err)
	}
	return s.url(tenantID, name, path), n, nil
}

// MediaLifetime is how long Meta keeps an inbound media id downloadable.
const MediaLifetime = 7 * 24 * time.Hour

// fetchMedia downloads an inbound media (GET /{media-id}, then the URL with
// the bearer token) into the media store and fills content. Errors are
// classified with the send table (ClassifyMedia): a permanent error stops,
// anything else is retried by the caller while the media id lives.
func (p *Provider) fetchMedia(ctx context.Context, rt *route, m *waMedia, c *providers.Content) error {
	info, err := p.client.getMedia(ctx, m.ID, rt.PhoneNumberID, rt.AccessToken)
	if err != nil {
		return ClassifyMedia(err)
	}
	// The transfer may outlast the inbox lease: keep the payload ours.
	p.extendLease(ctx, transferDeadline(int64(info.FileSize)))
	name := ""
	var stored string
	var size int64
	mt := ""
	err = p.client.download(ctx, info.URL, rt.AccessToken, int64(info.FileSize), MaxMediaBytes, func(r io.Reader, ctype string) error {
		mt = firstNonEmpty(m.MimeType, firstNonEmpty(info.MimeType, ctype))
		name = "meta/" + m.ID + extensionFor(mimeBase(mt))
		var err error
		if ss, ok := p.media.(MediaStreamStore); ok {
			stored, size, err = ss.PutStream(ctx, rt.TenantID, name, mt, r)
		} else {
			var data []byte
			if data, err = io.ReadAll(r); err == nil {
				size = int64(len(data))
				stored, err = p.media.Put(ctx, rt.TenantID, name, mt, data)
			}
		}
		if err != nil {
			return fmt.Errorf("store media: %w", err)
		}
		return nil
	})
	if err != nil {
		return ClassifyMedia(err)
	}
	c.MediaURL, c.MediaPath, c.SizeBytes = stored, name, size
	if c.MimeType == "" {
		c.MimeType = mt
	}
	return nil
}

// RedownloadMedia downloads again the media of an inbound Meta message
// (by its wamid) whose download failed or was lost, while Meta keeps the
// media id (MediaLifetime). It updates the row's content and clears its
// error on success.
func (p *Provider) RedownloadMedia(ctx context.Context, tenantID, wamid string) error {
	if p.media == nil {
		return errors.New("meta: no media store configured")
	}
	row, err := p.store.inboundMedia(ctx, tenantID, wamid)
	if err != nil {
		return err
	}
	if row.MediaID == "" {
		return zapbase.Errorf(zapbase.CodeInvalidInput, "a mensagem não tem mídia da Meta para baixar")
	}
	if !row.At.IsZero() && p.now().Sub(row.At) > MediaLifetime {
		return zapbase.Errorf(zapbase.CodeInvalidInput, "a mídia expirou na Meta (ela guarda mídias recebidas por 7 dias)")
	}
	rt, err := p.routes.routeForSession(ctx, row.SessionID)
	if err != nil {
		return err
	}
	if rt == nil {
		return &providers.SessionUnavailableError{State: providers.StateLoggedOut,
			Err: zapbase.Errorf(zapbase.CodeSessionUnavailable, "a sessão Meta da mensagem não tem mais credenciais")}
	}
	c := providers.Content{MimeType: row.MimeType}
	if err := p.fetchMedia(ctx, rt, &waMedia{ID: row.MediaID, MimeType: row.MimeType}, &c); err != nil {
		return fmt.Errorf("redownload media of %s: %w", wamid, err)
	}
	return p.store.setInboundMedia(ctx, tenantID, wamid, c)
}

// ClassifyMedia classifies an error of an inbound media download with the
// table of sends (Classify): rate limits (4, 80007, 130429 arrive as HTTP
// 400), token errors (190, HTTP 401), 5xx, is_transient and transport
// failures are retryable; an expired or unknown media id, a refused
// download or a file over the limit is permanent.
func ClassifyMedia(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, errMediaTooLarge) {
		return &providers.PermanentError{Code: "131052", Reason: Reason(131052), Err: err}
	}
	var he *HTTPError
	if errors.As(err, &he) && (he.Status == http.StatusNotFound || he.Status == http.StatusGone) {
		// The lookaside URL expired (5 minutes): a new GET /{media-id}
		// gives a new one, so this is worth a retry.
		return &providers.RetryableError{After: backoffUnknown, Err: err}
	}
	return Classify(err, 1, false)
}

// mediaRetryable reports whether a classified media error may succeed
// later (everything but a permanent error).
func mediaRetryable(err error) bool {
	var perm *providers.PermanentError
	return !errors.As(err, &perm)
}

func mimeBase(m string) string {
	base, _, _ := strings.Cut(m, ";")
	return strings.ToLower(strings.TrimSpace(base))
}

var extensions = map[string]string{
	"image/jpeg": ".jpg", "image/png": ".png", "image/webp": ".webp",
	"audio/ogg": ".ogg", "audio/mpeg": ".mp3", "audio/mp4": ".m4a", "audio/aac": ".aac", "audio/amr": ".amr",
	"video/mp4": ".mp4", "video/3gpp": ".3gp",
	"application/pdf": ".pdf", "text/plain": ".txt",
}

func extensionFor(base string) string {
	if e, ok := extensions[base]; ok {
		return e
	}
	if exts, _ := mime.ExtensionsByType(base); len(exts) > 0 {
		return exts[0]
	}
	return ".bin"
}
