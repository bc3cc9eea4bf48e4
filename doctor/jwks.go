package doctor

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"time"
)

// maxJWKSBody bounds the JWKS document read.
const maxJWKSBody = 1 << 20

// fetchJWKS returns how many keys the JWKS document at url publishes.
func fetchJWKS(ctx context.Context, client *http.Client, url string, timeout time.Duration) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return 0, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	var doc struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxJWKSBody)).Decode(&doc); err != nil {
		return 0, fmt.Errorf("resposta não é um JWKS: %w", err)
	}
	if doc.Keys == nil {
		return 0, fmt.Errorf("resposta não é um JWKS (sem \"keys\")")
	}
	return len(doc.Keys), nil
}
