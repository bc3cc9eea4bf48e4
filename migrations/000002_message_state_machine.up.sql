-- Why: message states must be truthful and monotonic whoever writes them (the
-- sidecar, a receipt arriving late or twice, a supabase-js client). The rules
-- live here, in SQL, mirroring zapbase.CanTransition:
--   pending → sending → sent → delivered → read → played, plus failed;
--   receipts never move a row backwards, read may skip delivered,
--   failed may follow sent but not delivered/read/played, failed is final,
--   sending → pending is a retry or a recovered claim; inbound: received → read.
BEGIN;

CREATE FUNCTION wa.status_rank(s text) RETURNS integer
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = '' AS $$
  SELECT CASE s
    WHEN 'pending' THEN 0 WHEN 'sending' THEN 1 WHEN 'sent' THEN 2
    WHEN 'delivered' THEN 3 WHEN 'read' THEN 4 WHEN 'played' THEN 5
    ELSE -1 END
$$;

CREATE FUNCTION wa.status_transition_allowed(from_status text, to_status text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE SET search_path = '' AS $$
  SELECT CASE
    WHEN from_status = to_status THEN false
    WHEN from_status = 'pending' THEN to_status IN ('sending', 'failed')
    WHEN from_status = 'sending' THEN to_status IN ('pending', 'failed')
                                   OR wa.status_rank(to_status) > 1
    WHEN from_status = 'sent' THEN to_status = 'failed' OR wa.status_rank(to_status) > 2
    WHEN from_status IN ('delivered', 'read') THEN wa.status_rank(to_status) > wa.status_rank(from_status)
    WHEN from_status = 'received' THEN to_status = 'read'
    ELSE false
  END
$$;

-- Guard every status change; stamp the time each state was reached.
-- SECURITY DEFINER: API roles have no USAGE on schema wa, yet their updates
-- must run this guard (which calls wa.status_transition_allowed).
CREATE FUNCTION wa.messages_status_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  IF NEW.status IS DISTINCT FROM OLD.status THEN
    IF NOT wa.status_transition_allowed(OLD.status, NEW.status) THEN
      RAISE EXCEPTION 'message % cannot move from % to %', OLD.id, OLD.status, NEW.status
        USING ERRCODE = 'check_violation', HINT = 'zapbase_status_transition';
    END IF;
    CASE NEW.status
      WHEN 'sent' THEN NEW.sent_at := coalesce(NEW.sent_at, now());
      WHEN 'delivered' THEN NEW.delivered_at := coalesce(NEW.delivered_at, now());
      WHEN 'read' THEN NEW.read_at := coalesce(NEW.read_at, now());
      WHEN 'played' THEN NEW.played_at := coalesce(NEW.played_at, now());
      WHEN 'failed' THEN NEW.failed_at := coalesce(NEW.failed_at, now());
      ELSE NULL;
    END CASE;
    -- A receipt that overtook the provider's ack still implies the send.
    IF wa.status_rank(NEW.status) >= 2 THEN
      NEW.sent_at := coalesce(NEW.sent_at, now());
    END IF;
  END IF;
  RETURN NEW;
END $$;

REVOKE ALL ON FUNCTION wa.messages_status_guard() FROM PUBLIC;

CREATE TRIGGER messages_status_guard BEFORE UPDATE OF status ON public.messages
  FOR EACH ROW EXECUTE FUNCTION wa.messages_status_guard();

-- New rows start where their direction says: outbound rows are queued
-- (pending), inbound rows are received. A client cannot insert a row that
-- pretends to be already sent.
CREATE FUNCTION wa.messages_insert_guard() RETURNS trigger
LANGUAGE plpgsql SET search_path = '' AS $$
BEGIN
  IF NEW.direction = 'outbound' AND NEW.status NOT IN ('pending', 'failed')
     AND current_user IN ('anon', 'authenticated') THEN
    RAISE EXCEPTION 'outbound messages must be inserted as pending'
      USING ERRCODE = 'check_violation', HINT = 'zapbase_status_transition';
  END IF;
  IF NEW.direction = 'inbound' AND current_user IN ('anon', 'authenticated') THEN
    RAISE EXCEPTION 'inbound messages are written by the sidecar only'
      USING ERRCODE = 'insufficient_privilege';
  END IF;
  RETURN NEW;
END $$;

CREATE TRIGGER messages_insert_guard BEFORE INSERT ON public.messages
  FOR EACH ROW EXECUTE FUNCTION wa.messages_insert_guard();

COMMIT;
