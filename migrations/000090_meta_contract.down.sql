BEGIN;
DROP INDEX IF EXISTS wa.meta_contacts_parent_bsuid_idx;
ALTER TABLE wa.meta_contacts DROP COLUMN IF EXISTS parent_bsuid;
ALTER TABLE public.messages DROP COLUMN IF EXISTS pricing;
DROP TABLE IF EXISTS wa.meta_unrouted_webhooks;
DROP TABLE IF EXISTS wa.meta_opt_outs;
DROP TABLE IF EXISTS wa.meta_templates;
COMMIT;
