-- Why: per-tenant API rate limits must hold across replicas, so their state
-- lives in Postgres: one row per tenant with the GCRA "theoretical arrival
-- time" (tat). A request is admitted by a single UPSERT that advances tat;
-- no row returned means the tenant is over its limit (429 + Retry-After).
BEGIN;

CREATE TABLE wa.rate_limits (
  tenant_id  uuid PRIMARY KEY REFERENCES public.tenants(id) ON DELETE CASCADE,
  tat        timestamptz NOT NULL
);

REVOKE ALL ON wa.rate_limits FROM PUBLIC, anon, authenticated;

-- Idempotency keys expire (operations purge old rows by created_at).
CREATE INDEX IF NOT EXISTS idempotency_keys_created_idx ON wa.idempotency_keys (created_at);

COMMIT;
