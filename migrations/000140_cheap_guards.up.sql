-- Why: the delivery pipeline must cost less per message than a generic
-- Postgres queue, and profiling (tests/bench/README.md) showed its guards
-- among the largest costs: a SECURITY DEFINER PL/pgSQL trigger on every
-- status write that called two SQL functions (each call re-initialised, a
-- GUC nest level per call) and a PL/pgSQL trigger on every INSERT. The rules
-- do not change; they get cheaper:
--   * the status guard runs only when the status changes (trigger WHEN, no
--     PL/pgSQL call otherwise), with the transition rules inlined (no SQL
--     function calls, no schema access, so neither SECURITY DEFINER nor a
--     pinned search_path is needed: it runs with the writer's privileges
--     and touches no table). wa.status_transition_allowed stays the
--     reference the dispatcher's receipts and the Go twin are tested
--     against; a test compares the trigger with it for every pair.
--   * the insert guard runs only for rows that could be refused (inbound,
--     or outbound not pending/failed): a client's ordinary outbound INSERT
--     runs no PL/pgSQL at all.
BEGIN;

CREATE OR REPLACE FUNCTION wa.messages_status_guard() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
  f text := OLD.status;
  t text := NEW.status;
  rf int := CASE f WHEN 'pending' THEN 0 WHEN 'sending' THEN 1 WHEN 'sent' THEN 2
                   WHEN 'delivered' THEN 3 WHEN 'read' THEN 4 WHEN 'played' THEN 5 ELSE -1 END;
  rt int := CASE t WHEN 'pending' THEN 0 WHEN 'sending' THEN 1 WHEN 'sent' THEN 2
                   WHEN 'delivered' THEN 3 WHEN 'read' THEN 4 WHEN 'played' THEN 5 ELSE -1 END;
  ok boolean;
BEGIN
  -- Same rules as wa.status_transition_allowed (migration 000002).
  ok := CASE
          WHEN f = 'pending' THEN t IN ('sending', 'failed')
          WHEN f = 'sending' THEN t IN ('pending', 'failed') OR rt > 1
          WHEN f = 'sent' THEN t = 'failed' OR rt > 2
          WHEN f IN ('delivered', 'read') THEN rt > rf
          WHEN f = 'received' THEN t = 'read'
          ELSE false
        END;
  IF NOT ok THEN
    RAISE EXCEPTION 'message % cannot move from % to %', OLD.id, f, t
      USING ERRCODE = 'check_violation', HINT = 'zapbase_status_transition';
  END IF;
  CASE t
    WHEN 'sent' THEN NEW.sent_at := coalesce(NEW.sent_at, now());
    WHEN 'delivered' THEN NEW.delivered_at := coalesce(NEW.delivered_at, now());
    WHEN 'read' THEN NEW.read_at := coalesce(NEW.read_at, now());
    WHEN 'played' THEN NEW.played_at := coalesce(NEW.played_at, now());
    WHEN 'failed' THEN NEW.failed_at := coalesce(NEW.failed_at, now());
    ELSE NULL;
  END CASE;
  -- A receipt that overtook the provider's ack still implies the send.
  IF rt >= 2 THEN
    NEW.sent_at := coalesce(NEW.sent_at, now());
  END IF;
  RETURN NEW;
END $$;
-- CREATE OR REPLACE reset SECURITY DEFINER and the SET clause of 000002
-- (properties not given take their defaults); say so explicitly.
ALTER FUNCTION wa.messages_status_guard() SECURITY INVOKER;
ALTER FUNCTION wa.messages_status_guard() RESET ALL;
REVOKE ALL ON FUNCTION wa.messages_status_guard() FROM PUBLIC;

DROP TRIGGER messages_status_guard ON public.messages;
CREATE TRIGGER messages_status_guard BEFORE UPDATE OF status ON public.messages
  FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status)
  EXECUTE FUNCTION wa.messages_status_guard();

DROP TRIGGER messages_insert_guard ON public.messages;
CREATE TRIGGER messages_insert_guard BEFORE INSERT ON public.messages
  FOR EACH ROW WHEN (NEW.direction = 'inbound' OR NEW.status NOT IN ('pending', 'failed'))
  EXECUTE FUNCTION wa.messages_insert_guard();

COMMIT;
