package meta

import (
	"context"
	"errors"
	"fmt"
	"mime"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/zapbase/zapbase/providers"
)

// MediaStore is the providers' (one seam for every provider);
// LocalMediaStore implements it in dev and tests.
type MediaStore = providers.MediaStore

// LocalMediaStore writes media to a directory: Dir/<tenant>/<name>. URLs
// are BaseURL/<tenant>/<name>, or file:// paths without BaseURL.
type LocalMediaStore struct {
	Dir     string
	BaseURL string
}

var _ MediaStore = LocalMediaStore{}

var safeName = regexp.MustCompile(`^[A-Za-z0-9._/-]+$`)

// Put implements MediaStore.
func (s LocalMediaStore) Put(_ context.Context, tenantID, name, _ string, data []byte) (string, error) {
	if !safeName.MatchString(tenantID) || !safeName.MatchString(name) || strings.Contains(name, "..") || strings.Contains(tenantID, "..") {
		return "", fmt.Errorf("local media store: unsafe name %q", name)
	}
	path := filepath.Join(s.Dir, tenantID, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o750); err != nil {
		return "", fmt.Errorf("local media store: %w", err)
	}
	if err := os.WriteFile(path, data, 0o640); err != nil {
		return "", fmt.Errorf("local media store: %w", err)
	}
	if s.BaseURL != "" {
		return strings.TrimRight(s.BaseURL, "/") + "/" + url.PathEscape(tenantID) + "/" + name, nil
	}
	return "file://" + path, nil
}

// fetchMedia downloads an inbound media (GET /{media-id}, then the URL with
// the bearer token) into the media store and fills content. A Graph error
// (expired id, blocked download) is permanent: the row is stored with a
// visible error instead of being retried forever.
func (p *Provider) fetchMedia(ctx context.Context, rt *route, m *waMedia, c *providers.Content) error {
	info, err := p.client.getMedia(ctx, m.ID, rt.PhoneNumberID, rt.AccessToken)
	if err != nil {
		return classifyMediaError(err)
	}
	data, ctype, err := p.client.download(ctx, info.URL, rt.AccessToken, MaxMediaBytes)
	if err != nil {
		return classifyMediaError(err)
	}
	mt := firstNonEmpty(m.MimeType, firstNonEmpty(info.MimeType, ctype))
	name := "meta/" + m.ID + extensionFor(mimeBase(mt))
	u, err := p.media.Put(ctx, rt.TenantID, name, mt, data)
	if err != nil {
		return fmt.Errorf("store media: %w", err)
	}
	c.MediaURL, c.MediaPath, c.SizeBytes = u, name, int64(len(data))
	if c.MimeType == "" {
		c.MimeType = mt
	}
	return nil
}

func classifyMediaError(err error) error {
	var ge *GraphError
	var he *HTTPError
	switch {
	case errors.As(err, &ge) && ge.HTTPStatus < 500:
		return &providers.PermanentError{Code: codeString(ge.Code), Reason: Reason(ge.Code), Err: err}
	case errors.As(err, &he) && he.Status < 500 && he.Status != 429:
		return &providers.PermanentError{Code: "http_" + codeString(he.Status), Reason: "mídia indisponível", Err: err}
	}
	return err
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
