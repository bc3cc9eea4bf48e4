-- Why: one durable, ordered feed of what changed, for the consumers that are
-- not supabase-js: the server-sent events endpoint (GET /api/v1/events,
-- resumable with Last-Event-ID) and outgoing webhooks (fanned out into
-- delivery rows). It is written by statement-level triggers with transition
-- tables, so a batched status write (the dispatcher completes many rows per
-- statement) costs one trigger call, not one per row. Rows are small (ids and
-- the changed state); consumers read the current row for the full payload.
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

CREATE FUNCTION wa.log_message_inserts() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  INSERT INTO wa.change_log (tenant_id, topic, session_id, message_id, chat, data)
  SELECT n.tenant_id,
         CASE WHEN n.direction = 'inbound' THEN 'message.received'
              WHEN n.agent_id IS NOT NULL THEN 'ai.reply'
              ELSE 'message.created' END,
         n.session_id, n.id,
         CASE WHEN n.direction = 'inbound' THEN n.from_number ELSE n.to_number END,
         jsonb_build_object('status', n.status, 'direction', n.direction, 'type', n.message_type)
  FROM new_rows n
  ORDER BY n.seq;
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION wa.log_message_inserts() FROM PUBLIC;

CREATE FUNCTION wa.log_message_updates() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  INSERT INTO wa.change_log (tenant_id, topic, session_id, message_id, chat, data)
  SELECT n.tenant_id,
         CASE WHEN n.status IS DISTINCT FROM o.status THEN 'message.status' ELSE 'message.updated' END,
         n.session_id, n.id,
         CASE WHEN n.direction = 'inbound' THEN n.from_number ELSE n.to_number END,
         CASE WHEN n.status IS DISTINCT FROM o.status
              THEN jsonb_strip_nulls(jsonb_build_object('status', n.status, 'previous', o.status,
                     'error_code', n.error_code, 'error_reason', n.error_reason))
              ELSE jsonb_build_object('status', n.status) END
  FROM new_rows n JOIN old_rows o ON o.id = n.id
  WHERE n.status IS DISTINCT FROM o.status OR n.content IS DISTINCT FROM o.content
  ORDER BY n.seq;
  RETURN NULL;
END $$;
REVOKE ALL ON FUNCTION wa.log_message_updates() FROM PUBLIC;

CREATE TRIGGER messages_change_log_insert AFTER INSERT ON public.messages
  REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION wa.log_message_inserts();
CREATE TRIGGER messages_change_log_update AFTER UPDATE ON public.messages
  REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION wa.log_message_updates();

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
