package supabase

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"golang.org/x/time/rate"
)

// JWT verification defaults, following Supabase's guidance: never cache the
// JWKS longer than 10 minutes, refresh it when a token names an unknown kid.
const (
	JWKSRefreshInterval = 10 * time.Minute
	// jwksUnknownKIDEvery bounds how often an unknown kid may trigger a
	// refresh, so a flood of forged kids cannot hammer the Auth server.
	jwksUnknownKIDEvery = 30 * time.Second
	jwtLeeway           = 30 * time.Second
)

// ErrInvalidToken is wrapped by every verification failure. Callers answer
// 401 and log the wrapped detail (never the token).
var ErrInvalidToken = errors.New("invalid token")

// VerifierConfig configures user-JWT verification.
type VerifierConfig struct {
	// JWKSURL is <SUPABASE_URL>/auth/v1/.well-known/jwks.json ("" disables
	// asymmetric keys).
	JWKSURL string
	// HS256Secret is the legacy shared JWT secret ("" disables HS256).
	HS256Secret string
	// Issuer is required in iss ("" skips the check; only for tests).
	Issuer string
	// Audience must be among aud (default "authenticated").
	Audience string
	// HTTPClient fetches the JWKS (default: 10 s timeout).
	HTTPClient *http.Client
}

// Claims are the verified claims of a Supabase user access token.
type Claims struct {
	jwt.RegisteredClaims
	Role      string `json:"role"`
	Email     string `json:"email,omitempty"`
	SessionID string `json:"session_id,omitempty"`
}

// UserID is the token's subject, a UUID.
func (c *Claims) UserID() string { return c.Subject }

// Verifier checks Supabase user JWTs locally.
type Verifier struct {
	cfg    VerifierConfig
	jwks   keyfunc.Keyfunc
	cancel context.CancelFunc
	algs   []string
}

// NewVerifier prepares a verifier. With a JWKS URL it starts a background
// refresh that Close stops; an unreachable JWKS at start is not fatal (keys
// are fetched again on the first unknown kid).
func NewVerifier(ctx context.Context, cfg VerifierConfig) (*Verifier, error) {
	if cfg.JWKSURL == "" && cfg.HS256Secret == "" {
		return nil, errors.New("jwt verifier: neither JWKS URL nor HS256 secret configured")
	}
	if cfg.Audience == "" {
		cfg.Audience = "authenticated"
	}
	v := &Verifier{cfg: cfg}
	if cfg.HS256Secret != "" {
		v.algs = append(v.algs, "HS256")
	}
	if cfg.JWKSURL != "" {
		v.algs = append(v.algs, "ES256", "RS256")
		client := cfg.HTTPClient
		if client == nil {
			client = &http.Client{Timeout: 10 * time.Second}
		}
		kctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		noErr := true
		kf, err := keyfunc.NewDefaultOverrideCtx(kctx, []string{cfg.JWKSURL}, keyfunc.Override{
			Client:                    client,
			RefreshInterval:           JWKSRefreshInterval,
			RefreshUnknownKID:         rate.NewLimiter(rate.Every(jwksUnknownKIDEvery), 1),
			RateLimitWaitMax:          time.Second,
			NoErrorReturnFirstHTTPReq: &noErr,
			RefreshErrorHandlerFunc: func(string) func(context.Context, error) {
				return func(context.Context, error) {} // surfaced as verification failures
			},
		})
		if err != nil {
			cancel()
			return nil, fmt.Errorf("jwt verifier: jwks: %w", err)
		}
		v.jwks, v.cancel = kf, cancel
	}
	return v, nil
}

// Close stops the JWKS refresh goroutine.
func (v *Verifier) Close() {
	if v.cancel != nil {
		v.cancel()
	}
}

// Verify checks the token's signature (allow-listed algorithms only), iss,
// aud, exp/nbf, role=authenticated and that sub is a UUID.
func (v *Verifier) Verify(ctx context.Context, token string) (*Claims, error) {
	claims := &Claims{}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(v.algs),
		jwt.WithAudience(v.cfg.Audience),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(jwtLeeway),
	}
	if v.cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(v.cfg.Issuer))
	}
	_, err := jwt.ParseWithClaims(token, claims, func(t *jwt.Token) (any, error) {
		switch t.Method.Alg() {
		case "HS256":
			if v.cfg.HS256Secret == "" {
				return nil, errors.New("hs256 not configured")
			}
			return []byte(v.cfg.HS256Secret), nil
		case "ES256", "RS256":
			if v.jwks == nil {
				return nil, errors.New("jwks not configured")
			}
			return v.jwks.KeyfuncCtx(ctx)(t)
		}
		return nil, fmt.Errorf("algorithm %s not allowed", t.Method.Alg())
	}, opts...)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalidToken, err)
	}
	if claims.Role != "authenticated" {
		return nil, fmt.Errorf("%w: role %q is not authenticated", ErrInvalidToken, claims.Role)
	}
	if _, err := uuid.Parse(claims.Subject); err != nil || strings.Count(claims.Subject, "-") != 4 {
		return nil, fmt.Errorf("%w: sub is not a uuid", ErrInvalidToken)
	}
	return claims, nil
}
