package supabase

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Storage is a thin client for the Supabase Storage REST API (upload and
// signed URLs). It sends the service key both as apikey (required by the
// new sb_secret_ keys) and as Bearer.
type Storage struct {
	base   string // <SUPABASE_URL>/storage/v1
	key    string
	client *http.Client
}

// NewStorage returns a Storage client for the project at supabaseURL.
func NewStorage(supabaseURL, serviceKey string, client *http.Client) *Storage {
	if client == nil {
		client = &http.Client{Timeout: 60 * time.Second}
	}
	return &Storage{base: strings.TrimRight(supabaseURL, "/") + "/storage/v1", key: serviceKey, client: client}
}

// StorageError is a non-2xx answer from Storage.
type StorageError struct {
	Status  int
	Message string
}

func (e *StorageError) Error() string {
	return fmt.Sprintf("storage: http %d: %s", e.Status, e.Message)
}

func escapePath(p string) string {
	parts := strings.Split(p, "/")
	for i, s := range parts {
		parts[i] = url.PathEscape(s)
	}
	return strings.Join(parts, "/")
}

// Upload stores data at bucket/path (no overwrite: the CDN may serve stale
// copies of replaced objects, so callers pick unique paths).
func (s *Storage) Upload(ctx context.Context, bucket, path, contentType string, data []byte) error {
	u := s.base + "/object/" + url.PathEscape(bucket) + "/" + escapePath(path)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(data))
	if err != nil {
		return fmt.Errorf("storage upload: %w", err)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("Cache-Control", "max-age=3600")
	return s.do(req, nil)
}

// SignedURL returns a URL that downloads bucket/path for expiresIn.
func (s *Storage) SignedURL(ctx context.Context, bucket, path string, expiresIn time.Duration) (string, error) {
	u := s.base + "/object/sign/" + url.PathEscape(bucket) + "/" + escapePath(path)
	body, _ := json.Marshal(map[string]int{"expiresIn": int(expiresIn.Seconds())})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return "", fmt.Errorf("storage sign: %w", err)
	}
	req.Header.Set("Content-Type", "application/json")
	var out struct {
		SignedURL string `json:"signedURL"`
	}
	if err := s.do(req, &out); err != nil {
		return "", err
	}
	if out.SignedURL == "" {
		return "", fmt.Errorf("storage sign: empty signedURL")
	}
	if strings.HasPrefix(out.SignedURL, "http") {
		return out.SignedURL, nil
	}
	return s.base + "/" + strings.TrimLeft(out.SignedURL, "/"), nil
}

func (s *Storage) do(req *http.Request, out any) error {
	req.Header.Set("apikey", s.key)
	req.Header.Set("Authorization", "Bearer "+s.key)
	resp, err := s.client.Do(req)
	if err != nil {
		return fmt.Errorf("storage %s: %w", req.URL.Path, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		var e struct {
			Message string `json:"message"`
			Error   string `json:"error"`
		}
		_ = json.Unmarshal(b, &e)
		msg := e.Message
		if msg == "" {
			msg = e.Error
		}
		return &StorageError{Status: resp.StatusCode, Message: msg}
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("storage %s: decode: %w", req.URL.Path, err)
		}
	}
	return nil
}
