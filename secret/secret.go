// Package secret encrypts secrets at rest (provider tokens, app secrets,
// webhook secrets, model API keys) with AES-256-GCM.
//
// A Box holds one active key and, for rotation, older keys by id. Sealed
// values carry the key id, so rows sealed with an old key still open after
// the active key changes. Keys come from configuration
// (ZAPBASE_ENCRYPTION_KEY: 32 bytes, base64 or hex); they are never logged.
package secret

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
)

// KeySize is the AES-256 key length in bytes.
const KeySize = 32

// ErrNoKey is returned when a value was sealed with a key the Box lacks.
var ErrNoKey = errors.New("secret: unknown key id")

// Box seals and opens secrets.
type Box struct {
	activeID string
	aeads    map[string]cipher.AEAD
}

// ParseKey decodes a 32-byte key written as base64 (std or URL) or hex.
func ParseKey(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if b, err := hex.DecodeString(s); err == nil && len(b) == KeySize {
		return b, nil
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) == KeySize {
			return b, nil
		}
	}
	return nil, fmt.Errorf("secret: key must be %d bytes, base64 or hex encoded", KeySize)
}

// KeyID derives a short public identifier of a key (not reversible).
func KeyID(key []byte) string {
	sum := sha256.Sum256(append([]byte("zapbase-key-id:"), key...))
	return hex.EncodeToString(sum[:4])
}

// NewBox returns a Box sealing with active and able to open values sealed
// with active or any of old.
func NewBox(active []byte, old ...[]byte) (*Box, error) {
	b := &Box{aeads: map[string]cipher.AEAD{}}
	for i, k := range append([][]byte{active}, old...) {
		if len(k) != KeySize {
			return nil, fmt.Errorf("secret: key %d has %d bytes, want %d", i, len(k), KeySize)
		}
		block, err := aes.NewCipher(k)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		id := KeyID(k)
		if i == 0 {
			b.activeID = id
		}
		b.aeads[id] = aead
	}
	return b, nil
}

// ActiveKeyID is the id stored next to newly sealed values.
func (b *Box) ActiveKeyID() string { return b.activeID }

// Seal encrypts plaintext; aad binds the ciphertext to its context (for
// example the session id), so a sealed value copied to another row does not
// open. It returns the key id and nonce||ciphertext.
func (b *Box) Seal(plaintext, aad []byte) (keyID string, sealed []byte, err error) {
	aead := b.aeads[b.activeID]
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return "", nil, fmt.Errorf("secret: nonce: %w", err)
	}
	return b.activeID, aead.Seal(nonce, nonce, plaintext, aad), nil
}

// Open decrypts a value sealed by Seal.
func (b *Box) Open(keyID string, sealed, aad []byte) ([]byte, error) {
	aead, ok := b.aeads[keyID]
	if !ok {
		return nil, ErrNoKey
	}
	if len(sealed) < aead.NonceSize() {
		return nil, errors.New("secret: sealed value too short")
	}
	pt, err := aead.Open(nil, sealed[:aead.NonceSize()], sealed[aead.NonceSize():], aad)
	if err != nil {
		return nil, fmt.Errorf("secret: open: %w", err)
	}
	return pt, nil
}
