BEGIN;
DROP INDEX IF EXISTS wa.audit_log_created_idx;
DROP INDEX IF EXISTS wa.webhook_inbox_processed_idx;
COMMIT;
