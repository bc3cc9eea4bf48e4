-- Why: a send may happen long after the request that asked for it (after a
-- restart, a retry, a handover to another replica); the W3C traceparent of
-- the origin (API request, change-stream event, webhook delivery, AI turn)
-- travels on the row so the send's span still joins the origin's trace.
-- NULL when tracing is off. A frontend may set it too (browser tracing);
-- the value is only parsed, never trusted beyond linking spans.
BEGIN;
ALTER TABLE public.messages ADD COLUMN traceparent text
  CONSTRAINT messages_traceparent_length CHECK (length(traceparent) <= 256);
ALTER TABLE wa.webhook_inbox ADD COLUMN traceparent text;
COMMIT;
