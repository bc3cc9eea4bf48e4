package main

import (
	"context"
	"fmt"
	"io"
	"mime"
	"path"
	"sync"

	"github.com/zapbase/zapbase/media"
	"github.com/zapbase/zapbase/store"
)

// providerMedia adapts the media store (keyed by client_id, the public
// tenant name used in Storage paths) to the providers' MediaStore
// interfaces (keyed by tenant id).
type providerMedia struct {
	files   media.Store
	tenants store.TenantQuery
	clients sync.Map // tenant id → client_id
}

func (p *providerMedia) clientID(ctx context.Context, tenantID string) (string, error) {
	if v, ok := p.clients.Load(tenantID); ok {
		return v.(string), nil
	}
	cid, err := p.tenants.ClientID(ctx, tenantID)
	if err != nil {
		return "", fmt.Errorf("look up tenant %s: %w", tenantID, err)
	}
	p.clients.Store(tenantID, cid)
	return cid, nil
}

// Put stores inbound media and returns a URL (signed, for Supabase
// Storage) or the store path (local store).
func (p *providerMedia) Put(ctx context.Context, tenantID, name, mimeType string, data []byte) (string, error) {
	cid, err := p.clientID(ctx, tenantID)
	if err != nil {
		return "", err
	}
	obj, err := p.files.Put(ctx, cid, name, mimeType, data)
	if err != nil {
		return "", err
	}
	if obj.URL != "" {
		return obj.URL, nil
	}
	return obj.Path, nil
}

// Get reads media stored by the API (content.mediaPath) for providers that
// upload bytes themselves (WhatsApp Web).
func (p *providerMedia) Get(ctx context.Context, tenantID, p2 string) ([]byte, string, error) {
	rc, err := p.files.Open(ctx, p2)
	if err != nil {
		return nil, "", err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, 100<<20))
	if err != nil {
		return nil, "", err
	}
	return data, mime.TypeByExtension(path.Ext(p2)), nil
}
