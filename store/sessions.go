package store

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/zapbase/zapbase"
)

// SessionQuery runs the statements over public.whatsapp_sessions.
type SessionQuery struct{ db DB }

// Sessions returns the queries over public.whatsapp_sessions.
func (s *Store) Sessions() SessionQuery { return SessionQuery{s.db} }

// SessionRow is a session as the API shows it.
type SessionRow struct {
	ID          string
	PhoneNumber string
	Provider    string
	State       string
	Reason      string
	Until       *time.Time
	QRCode      string
	PairCode    string
	ConnectedAt *time.Time
	UpdatedAt   time.Time
}

const sessionRowSelect = `SELECT id, phone_number, provider_type, state, coalesce(state_reason, ''), state_until,
       coalesce(qr_code, ''), coalesce(pair_code, ''), connected_at, updated_at FROM public.whatsapp_sessions`

func scanSessionRow(row pgx.CollectableRow) (SessionRow, error) {
	var i SessionRow
	err := row.Scan(&i.ID, &i.PhoneNumber, &i.Provider, &i.State, &i.Reason, &i.Until, &i.QRCode, &i.PairCode,
		&i.ConnectedAt, &i.UpdatedAt)
	return i, err
}

func (q SessionQuery) one(ctx context.Context, what, sql string, args ...any) (SessionRow, error) {
	rows, err := q.db.Query(ctx, sql, args...)
	if err != nil {
		return SessionRow{}, fmt.Errorf("store: %s: %w", what, err)
	}
	r, err := pgx.CollectExactlyOneRow(rows, scanSessionRow)
	if err != nil {
		return r, fmt.Errorf("store: %s: %w", what, err)
	}
	return r, nil
}

func (q SessionQuery) list(ctx context.Context, what, sql string, args ...any) ([]SessionRow, error) {
	rows, err := q.db.Query(ctx, sql, args...)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	list, err := pgx.CollectRows(rows, scanSessionRow)
	if err != nil {
		return nil, fmt.Errorf("store: %s: %w", what, err)
	}
	return list, nil
}

const sessionByIDSQL = sessionRowSelect + ` WHERE tenant_id = $1 AND id = $2`

// ByID reads the tenant's session id. pgx.ErrNoRows when there is none.
func (q SessionQuery) ByID(ctx context.Context, tenantID, id string) (SessionRow, error) {
	return q.one(ctx, "read session", sessionByIDSQL, tenantID, id)
}

const sessionByPhoneSQL = sessionRowSelect + ` WHERE tenant_id = $1 AND phone_number = $2`

// ByPhone reads the tenant's session of phone. pgx.ErrNoRows when there is
// none.
func (q SessionQuery) ByPhone(ctx context.Context, tenantID, phone string) (SessionRow, error) {
	return q.one(ctx, "read session", sessionByPhoneSQL, tenantID, phone)
}

const listSessionsSQL = sessionRowSelect + ` WHERE tenant_id = $1 ORDER BY created_at`

// List answers every session of the tenant, oldest first.
func (q SessionQuery) List(ctx context.Context, tenantID string) ([]SessionRow, error) {
	return q.list(ctx, "list sessions", listSessionsSQL, tenantID)
}

const firstActiveSQL = sessionRowSelect + ` WHERE tenant_id = $1 AND is_active ORDER BY created_at LIMIT 2`

// FirstActive answers the tenant's two oldest active sessions (at most):
// enough to tell "none", "exactly one" and "several" apart.
func (q SessionQuery) FirstActive(ctx context.Context, tenantID string) ([]SessionRow, error) {
	return q.list(ctx, "list active sessions", firstActiveSQL, tenantID)
}

// SessionRef is a session's id and provider.
type SessionRef struct {
	ID       string
	Provider zapbase.ProviderType
}

const activeRefSQL = `SELECT id, provider_type FROM public.whatsapp_sessions
 WHERE tenant_id = $1 AND phone_number = $2 AND is_active`

// ActiveRef resolves the tenant's active session of phone. pgx.ErrNoRows
// when there is none.
func (q SessionQuery) ActiveRef(ctx context.Context, tenantID, phone string) (SessionRef, error) {
	var r SessionRef
	if err := q.db.QueryRow(ctx, activeRefSQL, tenantID, phone).Scan(&r.ID, &r.Provider); err != nil {
		return r, fmt.Errorf("store: resolve active session: %w", err)
	}
	return r, nil
}

const refByPhoneSQL = `SELECT id, provider_type FROM public.whatsapp_sessions WHERE tenant_id = $1 AND phone_number = $2`

// RefByPhone resolves the tenant's session of phone, active or not.
// pgx.ErrNoRows when there is none.
func (q SessionQuery) RefByPhone(ctx context.Context, tenantID, phone string) (SessionRef, error) {
	var r SessionRef
	if err := q.db.QueryRow(ctx, refByPhoneSQL, tenantID, phone).Scan(&r.ID, &r.Provider); err != nil {
		return r, fmt.Errorf("store: resolve session: %w", err)
	}
	return r, nil
}

// EnsureResult answers Ensure.
type EnsureResult struct {
	ID       string
	Provider string
	// Created: the row did not exist before.
	Created bool
}

const ensureSessionSQL = `
WITH existing AS (
  SELECT id, provider_type FROM public.whatsapp_sessions WHERE tenant_id = $1 AND phone_number = $2
), ins AS (
  INSERT INTO public.whatsapp_sessions (tenant_id, phone_number, provider_type, state)
  SELECT $1, $2, $3, ` + sqlSessionDisconnected + `
   WHERE NOT EXISTS (SELECT 1 FROM existing)
     AND (SELECT count(*) FROM public.whatsapp_sessions WHERE tenant_id = $1)
         < (SELECT max_sessions FROM public.tenants WHERE id = $1)
  ON CONFLICT (tenant_id, phone_number) DO NOTHING
  RETURNING id, provider_type
)
SELECT id, provider_type, true FROM ins
UNION ALL
SELECT id, provider_type, false FROM existing`

// Ensure answers the tenant's session of phone, creating it (disconnected,
// on provider) when the tenant is below max_sessions. pgx.ErrNoRows when it
// was not created because of the limit; a trigger may also refuse it with
// the hint zapbase_session_limit (the *pgconn.PgError is in the chain).
func (q SessionQuery) Ensure(ctx context.Context, tenantID, phone string, provider zapbase.ProviderType) (EnsureResult, error) {
	var r EnsureResult
	err := q.db.QueryRow(ctx, ensureSessionSQL, tenantID, phone, string(provider)).Scan(&r.ID, &r.Provider, &r.Created)
	if err != nil {
		return r, fmt.Errorf("store: ensure session: %w", err)
	}
	return r, nil
}

const reactivateSQL = `UPDATE public.whatsapp_sessions SET is_active = true WHERE id = $1 AND NOT is_active`

// Reactivate marks session id active again.
func (q SessionQuery) Reactivate(ctx context.Context, id string) error {
	if _, err := q.db.Exec(ctx, reactivateSQL, id); err != nil {
		return fmt.Errorf("store: reactivate session: %w", err)
	}
	return nil
}

const lockSessionSQL = `SELECT 1 FROM public.whatsapp_sessions WHERE tenant_id = $1 AND id = $2 FOR UPDATE`

// Lock locks the tenant's session row id until the transaction ends (run
// it in InTx); it serialises writers of the session's dependent rows.
func (q SessionQuery) Lock(ctx context.Context, tenantID, id string) error {
	if _, err := q.db.Exec(ctx, lockSessionSQL, tenantID, id); err != nil {
		return fmt.Errorf("store: lock session: %w", err)
	}
	return nil
}

const countActiveByStateSQL = `SELECT state, count(*) FROM public.whatsapp_sessions WHERE tenant_id = $1 AND is_active GROUP BY state`

// CountActiveByState counts the tenant's active sessions by state.
func (q SessionQuery) CountActiveByState(ctx context.Context, tenantID string) (map[string]int64, error) {
	m, err := countsByKey(q.db.Query(ctx, countActiveByStateSQL, tenantID))
	if err != nil {
		return nil, fmt.Errorf("store: count sessions by state: %w", err)
	}
	return m, nil
}

const countActiveByProviderSQL = `SELECT provider_type, count(*) FROM public.whatsapp_sessions WHERE tenant_id = $1 AND is_active GROUP BY provider_type`

// CountActiveByProvider counts the tenant's active sessions by provider.
func (q SessionQuery) CountActiveByProvider(ctx context.Context, tenantID string) (map[string]int64, error) {
	m, err := countsByKey(q.db.Query(ctx, countActiveByProviderSQL, tenantID))
	if err != nil {
		return nil, fmt.Errorf("store: count sessions by provider: %w", err)
	}
	return m, nil
}
