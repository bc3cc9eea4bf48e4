package tests

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestDevPrintsWhatsAppWebQR: in `zapbase dev`, initializing a baileys
// session draws its QR code in the terminal (offline fake client: the code
// is whatever the client issues, here a fake one) and answers it in the API.
func TestDevPrintsWhatsAppWebQR(t *testing.T) {
	t.Parallel()
	p := Start(t, map[string]string{"__DIR": t.TempDir(), "ZAPBASE_TEST_WHATSMEOW_FAKE": "1"},
		"dev", "--addr", "127.0.0.1:0", "--pg-port", "0")
	var token string
	lines := strings.Split(p.Logs(), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "JWT de desenvolvimento") && i+1 < len(lines) {
			token = strings.TrimSpace(lines[i+1])
		}
	}
	require.NotEmpty(t, token, "the banner prints the dev JWT")

	body, _ := json.Marshal(map[string]any{"phoneNumber": "5511955554444", "provider": "baileys"})
	req, err := http.NewRequest("POST", p.BaseURL()+"/api/v1/sessions/initialize", bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-Client-Id", "demo")
	req.Header.Set("Content-Type", "application/json")
	res, err := (&http.Client{Timeout: time.Minute}).Do(req)
	require.NoError(t, err)
	defer res.Body.Close()
	var info struct {
		State  string `json:"state"`
		QRCode string `json:"qrCode"`
	}
	require.NoError(t, json.NewDecoder(res.Body).Decode(&info))
	require.Equal(t, 200, res.StatusCode)
	require.Equal(t, "pairing", info.State)
	require.True(t, strings.HasPrefix(info.QRCode, "2@fake"), info.QRCode)

	require.Eventually(t, func() bool {
		return strings.Contains(p.Logs(), "WhatsApp Web 5511955554444: escaneie o QR code")
	}, 10*time.Second, 50*time.Millisecond)
	out := p.Logs()
	i := strings.Index(out, "WhatsApp Web 5511955554444: escaneie o QR code")
	require.Contains(t, out[i:], "▀", "the QR is drawn with half blocks")
	require.Contains(t, out[i:], "▄")
}
