BEGIN;
DROP INDEX IF EXISTS wa.idempotency_keys_created_idx;
DROP TABLE IF EXISTS wa.rate_limits;
COMMIT;
