-- Why: undo 000060 (trace context on messages and webhook inbox rows).
BEGIN;
ALTER TABLE wa.webhook_inbox DROP COLUMN IF EXISTS traceparent;
ALTER TABLE public.messages DROP COLUMN IF EXISTS traceparent;
COMMIT;
