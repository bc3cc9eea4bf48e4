-- Why: undo 000001 completely (schemas wa/whatsmeow included when empty of
-- foreign objects; whatsmeow's own tables are dropped with the schema).
BEGIN;
DROP TABLE IF EXISTS wa.idempotency_keys, wa.api_keys, wa.tenant_secrets, wa.session_secrets,
  wa.session_leases, wa.webhook_inbox, wa.audit_log;
DROP TABLE IF EXISTS public.messages, public.ai_conversations, public.ai_agents,
  public.whatsapp_sessions, public.tenant_members, public.tenants;
DROP FUNCTION IF EXISTS wa.set_updated_at();
DROP SCHEMA IF EXISTS whatsmeow CASCADE;
-- Schema wa stays: it holds golang-migrate's own version table.
COMMIT;
