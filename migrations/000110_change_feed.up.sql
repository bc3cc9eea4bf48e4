-- Why: one durable, ordered feed of what changed, for the consumers that are
-- not supabase-js: the server-sent events endpoint (GET /api/v1/events,
-- resumable with Last-Event-ID) and outgoing webhooks (fanned out into
-- delivery rows). It is written by triggers, so nothing that changes a row
-- (the sidecar, a supabase-js client, a manual fix) escapes it. Rows are
-- small (ids and the changed state); consumers read the current row for the
-- full payload.
--
-- Ordering: identity values are taken at insert time, not at commit, so a
-- reader that only remembered the highest id could skip a row committed late
-- with a lower id. Each row therefore carries its transaction id (txid); a
-- reader only reads rows whose transaction is older than the oldest one still
-- running (txid < pg_snapshot_xmin(pg_current_snapshot())) — those are final —
-- ordered by (txid, id), and resumes after the last (txid, id) it handled.
BEGIN;

CREATE TABLE wa.change_log (
  txid        xid8 NOT NULL DEFAULT pg_current_xact_id(),
  id          bigint GENERATED ALWAYS AS IDENTITY,
  tenant_id   uuid NOT NULL,
  -- message.received | message.created | ai.reply | message.status |
  -- message.updated | session.state | session.qr | call | ...
  topic       text NOT NULL,
  session_id  uuid,
  -- public.messages.id for message topics.
  message_id  uuid,
  -- The contact (number or JID) the change belongs to: per-conversation order.
  chat        text,
  data        jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (txid, id)
);
COMMENT ON TABLE wa.change_log IS 'zapbase change feed (SSE, outgoing webhooks). Read in (txid, id) order below the snapshot xmin.';

-- Messages: row triggers gated by WHEN clauses, evaluated before any
-- PL/pgSQL runs, so the hot path pays nothing for what is not an event: a
-- client's outbound INSERT (the sidecar reports it when its status moves)
-- and the sidecar's internal pending/sending transitions are not logged.
-- Logged: inbound messages and AI replies (inserts), every status change to
-- a state a client cares about (sent, delivered, read, played, failed,
-- received→read), and content edits.
CREATE FUNCTION wa.log_message_change() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO wa.change_log (tenant_id, topic, session_id, message_id, chat, data)
    VALUES (NEW.tenant_id,
            CASE WHEN NEW.direction = 'inbound' THEN 'message.received' ELSE 'ai.reply' END,
            NEW.session_id, NEW.id,
            CASE WHEN NEW.direction = 'inbound' THEN NEW.from_number ELSE NEW.to_number END,
            jsonb_build_object('status', NEW.status, 'direction', NEW.direction, 'type', NEW.message_type));
  ELSIF NEW.status IS DISTINCT FROM OLD.status THEN
    INSERT INTO wa.change_log (tenant_id, topic, session_id, message_id, chat, data)
    VALUES (NEW.tenant_id, 'message.status', NEW.session_id, NEW.id,
            CASE WHEN NEW.direction = 'inbound' THEN NEW.from_number ELSE NEW.to_number END,
            jsonb_strip_nulls(jsonb_build_object('status', NEW.status, 'previous', OLD.status,
              'error_code', NEW.error_code, 'error_reason', NEW.error_reason)));
  ELSE
    INSERT INTO wa.change_log (tenant_id, topic, session_id, message_id, chat, data)
    VALUES (NEW.tenant_id, 'message.updated', NEW.session_id, NEW.id,
            CASE WHEN NEW.direction = 'inbound' THEN NEW.from_number ELSE NEW.to_number END,
            jsonb_build_object('status', NEW.status));
  END IF;
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION wa.log_message_change() FROM PUBLIC;

CREATE TRIGGER messages_change_log_insert AFTER INSERT ON public.messages
  FOR EACH ROW WHEN (NEW.direction = 'inbound' OR NEW.agent_id IS NOT NULL)
  EXECUTE FUNCTION wa.log_message_change();
CREATE TRIGGER messages_change_log_update AFTER UPDATE ON public.messages
  FOR EACH ROW WHEN ((OLD.status IS DISTINCT FROM NEW.status AND NEW.status NOT IN ('pending', 'sending'))
                     OR OLD.content IS DISTINCT FROM NEW.content)
  EXECUTE FUNCTION wa.log_message_change();

CREATE FUNCTION wa.log_session_changes() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO wa.change_log (tenant_id, topic, session_id, data)
    SELECT n.tenant_id, 'session.state', n.id,
           jsonb_strip_nulls(jsonb_build_object('state', n.state, 'reason', n.state_reason,
             'provider', n.provider_type, 'phone_number', n.phone_number))
    FROM new_rows n;
  ELSE
    INSERT INTO wa.change_log (tenant_id, topic, session_id, data)
    SELECT n.tenant_id, 'session.state', n.id,
           jsonb_strip_nulls(jsonb_build_object('state', n.state, 'previous', o.state,
             'reason', n.state_reason, 'provider', n.provider_type, 'phone_number', n.phone_number))
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE n.state IS DISTINCT FROM o.state;
    -- The QR (or pairing code) a WhatsApp Web session shows changed: pairing
    -- UIs and n8n flows render it.
    INSERT INTO wa.change_log (tenant_id, topic, session_id, data)
    SELECT n.tenant_id, 'session.qr', n.id,
           jsonb_strip_nulls(jsonb_build_object('qr_code', n.qr_code, 'pair_code', n.pair_code,
             'phone_number', n.phone_number))
    FROM new_rows n JOIN old_rows o ON o.id = n.id
    WHERE (n.qr_code IS DISTINCT FROM o.qr_code OR n.pair_code IS DISTINCT FROM o.pair_code)
      AND (n.qr_code IS NOT NULL OR n.pair_code IS NOT NULL);
  END IF;
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION wa.log_session_changes() FROM PUBLIC;

CREATE TRIGGER whatsapp_sessions_change_log_insert AFTER INSERT ON public.whatsapp_sessions
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION wa.log_session_changes();
CREATE TRIGGER whatsapp_sessions_change_log_update AFTER UPDATE ON public.whatsapp_sessions
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION wa.log_session_changes();

COMMIT;
