package webhooks

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strconv"
	"strings"
	"time"
)

// Headers of every delivery.
const (
	HeaderSignature  = "X-Zapbase-Signature"
	HeaderTimestamp  = "X-Zapbase-Timestamp"
	HeaderEvent      = "X-Zapbase-Event"
	HeaderEventID    = "X-Zapbase-Event-Id"
	HeaderDeliveryID = "X-Zapbase-Delivery"
	HeaderAttempt    = "X-Zapbase-Attempt"
	// SignatureTolerance is the clock skew receivers should accept (the
	// documented replay window).
	SignatureTolerance = 5 * time.Minute
	// SecretPrefix starts every subscription secret.
	SecretPrefix = "whsec_"
)

// Sign returns the X-Zapbase-Signature value of body sent at ts:
// "sha256=" + hex(HMAC-SHA256(secret, "<ts>.<body>")). The key is the
// secret string exactly as shown at creation (whsec_ included).
func Sign(secret string, ts int64, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(ts, 10)))
	mac.Write([]byte("."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Verify checks a delivery's signature in constant time and its timestamp
// against now ± SignatureTolerance. It is what a Go receiver would run.
func Verify(secret, tsHeader, sigHeader string, body []byte, now time.Time) error {
	ts, err := strconv.ParseInt(strings.TrimSpace(tsHeader), 10, 64)
	if err != nil {
		return errors.New("missing or invalid timestamp")
	}
	if skew := now.Sub(time.Unix(ts, 0)); skew > SignatureTolerance || skew < -SignatureTolerance {
		return errors.New("timestamp outside tolerance")
	}
	if !hmac.Equal([]byte(strings.TrimSpace(sigHeader)), []byte(Sign(secret, ts, body))) {
		return errors.New("signature mismatch")
	}
	return nil
}

// NewSecret returns a fresh signing secret: whsec_ + 32 random bytes.
func NewSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return SecretPrefix + base64.RawURLEncoding.EncodeToString(b), nil
}
