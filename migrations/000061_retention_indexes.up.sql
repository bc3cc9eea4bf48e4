-- Why: the retention janitor deletes old rows in bounded batches (processed
-- webhook inbox rows by processed_at, audit entries by created_at). Without
-- these indexes every batch would scan the whole table. Building them locks
-- writes to the two tables for the build's duration, once, at start-up.
BEGIN;

CREATE INDEX IF NOT EXISTS webhook_inbox_processed_idx ON wa.webhook_inbox (processed_at)
  WHERE processed_at IS NOT NULL;
CREATE INDEX IF NOT EXISTS audit_log_created_idx ON wa.audit_log (created_at);

COMMIT;
