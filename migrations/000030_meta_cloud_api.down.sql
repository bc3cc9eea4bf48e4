-- Why: revert 000030 (Meta Cloud API routing and contacts).
BEGIN;
DROP INDEX IF EXISTS wa.webhook_inbox_source_unprocessed_idx;
DROP TABLE IF EXISTS wa.meta_contacts;
DROP TABLE IF EXISTS wa.meta_numbers;
COMMIT;
