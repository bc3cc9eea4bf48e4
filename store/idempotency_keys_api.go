package store

import (
	"context"
	"fmt"
)

const claimIdempotencyKeySQL = `INSERT INTO wa.idempotency_keys (tenant_id, key, request_hash)
VALUES ($1, $2, $3) ON CONFLICT (tenant_id, key) DO NOTHING`

// Claim records key for a request with hash; false when the tenant already
// used it (Get answers the first request's record).
func (q IdempotencyKeyQuery) Claim(ctx context.Context, tenantID, key string, hash []byte) (bool, error) {
	tag, err := q.db.Exec(ctx, claimIdempotencyKeySQL, tenantID, key, hash)
	if err != nil {
		return false, fmt.Errorf("store: claim idempotency key: %w", err)
	}
	return tag.RowsAffected() > 0, nil
}

const setAcceptedSQL = `UPDATE wa.idempotency_keys SET status_code = 202, response = $3
 WHERE tenant_id = $1 AND key = $2`

// SetAccepted stores the 202 answer of key's request.
func (q IdempotencyKeyQuery) SetAccepted(ctx context.Context, tenantID, key string, response []byte) error {
	if _, err := q.db.Exec(ctx, setAcceptedSQL, tenantID, key, response); err != nil {
		return fmt.Errorf("store: store idempotent answer: %w", err)
	}
	return nil
}

const setResponseSQL = `UPDATE wa.idempotency_keys SET status_code = $3, response = $4
 WHERE tenant_id = $1 AND key = $2`

// SetResponse stores the final answer (HTTP status and body) of key's
// request.
func (q IdempotencyKeyQuery) SetResponse(ctx context.Context, tenantID, key string, status int, response []byte) error {
	if _, err := q.db.Exec(ctx, setResponseSQL, tenantID, key, status, response); err != nil {
		return fmt.Errorf("store: store idempotent answer: %w", err)
	}
	return nil
}

// IdempotencyRecord is what is stored for a key.
type IdempotencyRecord struct {
	RequestHash []byte
	// StatusCode and Response are nil while the first request runs.
	StatusCode *int
	Response   []byte
}

const getIdempotencyKeySQL = `SELECT request_hash, status_code, response FROM wa.idempotency_keys
 WHERE tenant_id = $1 AND key = $2`

// Get reads the tenant's record of key.
func (q IdempotencyKeyQuery) Get(ctx context.Context, tenantID, key string) (IdempotencyRecord, error) {
	var r IdempotencyRecord
	if err := q.db.QueryRow(ctx, getIdempotencyKeySQL, tenantID, key).Scan(&r.RequestHash, &r.StatusCode, &r.Response); err != nil {
		return r, fmt.Errorf("store: read idempotency key: %w", err)
	}
	return r, nil
}
