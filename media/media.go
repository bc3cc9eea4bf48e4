// Package media stores message media (uploads from the API) and hands out
// URLs providers can fetch. Two stores exist: Supabase Storage over its REST
// API when SUPABASE_URL and a service key are configured, a local directory
// otherwise (dev mode). Paths are always prefixed by the tenant's client_id.
//
// Check validates size and MIME type against WhatsApp's limits before
// anything is stored, so a bad upload is a 4xx and never a partial write.
package media

import (
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/supabase"
)

// Limits per media kind (WhatsApp Cloud API documented limits).
const (
	MaxImageBytes    = 5 << 20
	MaxVideoBytes    = 16 << 20
	MaxAudioBytes    = 16 << 20
	MaxDocumentBytes = 100 << 20
	MaxStickerBytes  = 500 << 10
	// MaxUploadBytes bounds any upload (the largest kind).
	MaxUploadBytes = MaxDocumentBytes
	// SignedURLTTL is how long a signed URL handed to a provider lives.
	SignedURLTTL = time.Hour
)

var allowed = map[zapbase.MessageType][]string{
	zapbase.MessageImage:   {"image/jpeg", "image/png", "image/webp"},
	zapbase.MessageVideo:   {"video/mp4", "video/3gpp"},
	zapbase.MessageAudio:   {"audio/aac", "audio/mp4", "audio/mpeg", "audio/amr", "audio/ogg", "audio/opus", "audio/wav", "audio/x-wav", "audio/webm"},
	zapbase.MessageVoice:   {"audio/ogg", "audio/opus", "audio/aac", "audio/mp4", "audio/mpeg", "audio/amr"},
	zapbase.MessageSticker: {"image/webp"},
	// Documents: any type except executables-by-MIME is accepted by WhatsApp.
}

var maxBytes = map[zapbase.MessageType]int64{
	zapbase.MessageImage:    MaxImageBytes,
	zapbase.MessageVideo:    MaxVideoBytes,
	zapbase.MessageAudio:    MaxAudioBytes,
	zapbase.MessageVoice:    MaxAudioBytes,
	zapbase.MessageDocument: MaxDocumentBytes,
	zapbase.MessageSticker:  MaxStickerBytes,
}

// Error codes of rejected media.
const (
	CodeTooLarge        zapbase.Code = "media_too_large"
	CodeUnsupportedType zapbase.Code = "unsupported_media_type"
	CodeEmpty           zapbase.Code = "media_empty"
)

// Check validates data for a message of type t and returns the effective
// MIME type (declared, or sniffed when declared is empty or generic).
func Check(t zapbase.MessageType, declared string, data []byte) (string, error) {
	limit, ok := maxBytes[t]
	if !ok {
		return "", zapbase.Errorf(zapbase.CodeInvalidInput, "o tipo %q não é um tipo de mídia", t)
	}
	if len(data) == 0 {
		return "", zapbase.Errorf(CodeEmpty, "o arquivo de mídia está vazio")
	}
	if int64(len(data)) > limit {
		return "", zapbase.Errorf(CodeTooLarge, "arquivo de %d bytes excede o limite de %d bytes para %s", len(data), limit, t)
	}
	mt := normalize(declared)
	if mt == "" || mt == "application/octet-stream" {
		mt = normalize(http.DetectContentType(data))
	}
	if mt == "application/ogg" && (t == zapbase.MessageAudio || t == zapbase.MessageVoice) {
		mt = "audio/ogg" // what sniffing reports for Ogg containers
	}
	if list, ok := allowed[t]; ok {
		for _, a := range list {
			if a == mt {
				return mt, nil
			}
		}
		return "", zapbase.Errorf(CodeUnsupportedType, "tipo de arquivo %q não é aceito para %s (aceitos: %s)", mt, t, strings.Join(list, ", "))
	}
	return mt, nil
}

func normalize(ct string) string {
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return ""
	}
	return strings.ToLower(mt)
}

// Object is a stored media file.
type Object struct {
	// Path is the store path (client_id/yyyy/mm/uuid.ext), kept in
	// messages.content.mediaPath.
	Path     string
	MimeType string
	Size     int64
	// URL is a signed URL (Supabase Storage) or "" for the local store.
	URL string
}

// Store keeps media files.
type Store interface {
	// Put stores data under the tenant's prefix.
	Put(ctx context.Context, clientID, filename, mimeType string, data []byte) (Object, error)
	// Open reads a stored file (providers that upload bytes).
	Open(ctx context.Context, path string) (io.ReadCloser, error)
}

func newPath(clientID, filename, mimeType string) string {
	ext := strings.ToLower(path.Ext(filename))
	if ext == "" || len(ext) > 8 {
		if exts, _ := mime.ExtensionsByType(mimeType); len(exts) > 0 {
			ext = exts[0]
		} else {
			ext = ""
		}
	}
	now := time.Now().UTC()
	return fmt.Sprintf("%s/%04d/%02d/%s%s", clientID, now.Year(), int(now.Month()), uuid.NewString(), ext)
}

// Local stores media in a directory (dev mode, single replica).
type Local struct{ Dir string }

// Put implements Store.
func (l *Local) Put(_ context.Context, clientID, filename, mimeType string, data []byte) (Object, error) {
	p := newPath(clientID, filename, mimeType)
	full := filepath.Join(l.Dir, filepath.FromSlash(p))
	if err := os.MkdirAll(filepath.Dir(full), 0o750); err != nil {
		return Object{}, fmt.Errorf("store media %s: %w", p, err)
	}
	if err := os.WriteFile(full, data, 0o640); err != nil {
		return Object{}, fmt.Errorf("store media %s: %w", p, err)
	}
	return Object{Path: p, MimeType: mimeType, Size: int64(len(data))}, nil
}

// Open implements Store.
func (l *Local) Open(_ context.Context, p string) (io.ReadCloser, error) {
	clean := path.Clean("/" + p)[1:]
	if clean != p || strings.HasPrefix(clean, "..") {
		return nil, errors.New("open media: invalid path")
	}
	return os.Open(filepath.Join(l.Dir, filepath.FromSlash(clean)))
}

// SupabaseStore stores media in a Supabase Storage bucket.
type SupabaseStore struct {
	Storage *supabase.Storage
	Bucket  string
	// HTTPClient downloads signed URLs in Open (default http.DefaultClient).
	HTTPClient *http.Client
}

// Put implements Store.
func (s *SupabaseStore) Put(ctx context.Context, clientID, filename, mimeType string, data []byte) (Object, error) {
	p := newPath(clientID, filename, mimeType)
	if err := s.Storage.Upload(ctx, s.Bucket, p, mimeType, data); err != nil {
		return Object{}, fmt.Errorf("store media %s: %w", p, err)
	}
	u, err := s.Storage.SignedURL(ctx, s.Bucket, p, SignedURLTTL)
	if err != nil {
		return Object{}, fmt.Errorf("sign media %s: %w", p, err)
	}
	return Object{Path: p, MimeType: mimeType, Size: int64(len(data)), URL: u}, nil
}

// Open implements Store.
func (s *SupabaseStore) Open(ctx context.Context, p string) (io.ReadCloser, error) {
	u, err := s.Storage.SignedURL(ctx, s.Bucket, p, 5*time.Minute)
	if err != nil {
		return nil, fmt.Errorf("open media %s: %w", p, err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	c := s.HTTPClient
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, fmt.Errorf("open media %s: %w", p, err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("open media %s: http %d", p, resp.StatusCode)
	}
	return resp.Body, nil
}
