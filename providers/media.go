package providers

import "context"

// MediaStore keeps media received from contacts. Put stores data under
// name for a tenant and returns the URL written to content.mediaUrl
// (Supabase Storage in production, a local directory in dev and tests).
// The host implements it once for every provider.
type MediaStore interface {
	Put(ctx context.Context, tenantID, name, mimeType string, data []byte) (url string, err error)
}

// MediaGetter is optionally implemented by a MediaStore to serve outbound
// media referenced by Content.MediaPath.
type MediaGetter interface {
	Get(ctx context.Context, tenantID, path string) (data []byte, mimeType string, err error)
}
