package whatsmeow

import (
	"context"
	"log/slog"
	"net/http"
	"time"

	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/store"
)

// DefaultVersionFetchTimeout bounds the start-up fetch of the current
// WhatsApp Web version: start must not wait on a slow network.
const DefaultVersionFetchTimeout = 5 * time.Second

// FetchVersionFunc answers the current WhatsApp Web client version
// ("2.3000.N").
type FetchVersionFunc func(ctx context.Context) (string, error)

// LatestVersionFunc fetches the version from web.whatsapp.com with
// whatsmeow.GetLatestVersion.
func LatestVersionFunc(hc *http.Client) FetchVersionFunc {
	return func(ctx context.Context) (string, error) {
		v, err := whatsmeow.GetLatestVersion(ctx, hc)
		if err != nil {
			return "", err
		}
		return v.String(), nil
	}
}

// VersionResult is the outcome of SyncWAVersion.
type VersionResult struct {
	Builtin, Fetched, Using string
	// Changed: the advertised version was replaced by the fetched one.
	Changed bool
	Err     error
}

// SyncWAVersion fetches the current WhatsApp Web version and advertises it
// (store.SetWAVersion) when it differs from the built-in one, so a server
// that starts rejecting the built-in version ("client outdated", 405) does
// not have to wait for a whatsmeow release. On any failure the built-in
// version stays. It must run before the first connection.
func SyncWAVersion(ctx context.Context, fetch FetchVersionFunc, timeout time.Duration, log *slog.Logger) VersionResult {
	builtin := store.GetWAVersion()
	res := VersionResult{Builtin: builtin.String(), Using: builtin.String()}
	if fetch == nil {
		return res
	}
	if timeout <= 0 {
		timeout = DefaultVersionFetchTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	got, err := fetch(ctx)
	if err == nil {
		var v store.WAVersionContainer
		if v, err = store.ParseVersion(got); err == nil && !v.IsZero() {
			res.Fetched = v.String()
			if v != builtin {
				store.SetWAVersion(v)
				res.Using, res.Changed = v.String(), true
				log.Info("whatsapp web version differs from the built-in one; advertising the current one",
					"builtin_version", res.Builtin, "current_version", res.Using)
			}
			return res
		}
	}
	res.Err = err
	log.Warn("cannot fetch the current whatsapp web version; using the built-in one",
		"builtin_version", res.Builtin, "error", err)
	return res
}
