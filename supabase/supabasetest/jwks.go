// Package supabasetest fakes the parts of the Supabase platform that tests
// cannot reach: today the Auth JWKS endpoint, speaking its real format.
package supabasetest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/MicahParks/jwkset"
)

// JWKSPath is where Supabase Auth publishes its signing keys.
const JWKSPath = "/auth/v1/.well-known/jwks.json"

// JWKS serves ES256 public keys at JWKSPath, as a project on asymmetric
// signing keys does (Cache-Control max-age=600 like Auth). Keys can be added
// and removed while it runs, to simulate a rotation.
type JWKS struct {
	*httptest.Server
	mu   sync.Mutex
	keys map[string]*ecdsa.PrivateKey
}

// NewJWKS starts a JWKS server, closed when the test ends. Its URL plays
// the role of SUPABASE_URL.
func NewJWKS(t testing.TB) *JWKS {
	j := &JWKS{keys: map[string]*ecdsa.PrivateKey{}}
	j.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != JWKSPath {
			http.NotFound(w, r)
			return
		}
		j.mu.Lock()
		defer j.mu.Unlock()
		set := jwkset.NewMemoryStorage()
		for kid, k := range j.keys {
			jwk, err := jwkset.NewJWKFromKey(k.Public(), jwkset.JWKOptions{Metadata: jwkset.JWKMetadataOptions{KID: kid, ALG: jwkset.AlgES256, USE: jwkset.UseSig}})
			if err != nil {
				http.Error(w, err.Error(), http.StatusInternalServerError)
				return
			}
			_ = set.KeyWrite(r.Context(), jwk)
		}
		b, _ := set.JSONPublic(r.Context())
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "public, max-age=600")
		_, _ = w.Write(b)
	}))
	t.Cleanup(j.Close)
	return j
}

// AddKey generates and publishes a P-256 key under kid and returns it for
// signing tokens.
func (j *JWKS) AddKey(kid string) *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	j.mu.Lock()
	j.keys[kid] = k
	j.mu.Unlock()
	return k
}

// RemoveKey stops publishing kid.
func (j *JWKS) RemoveKey(kid string) {
	j.mu.Lock()
	delete(j.keys, kid)
	j.mu.Unlock()
}
