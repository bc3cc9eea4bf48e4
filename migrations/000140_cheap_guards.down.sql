-- Why: restores the guards of migration 000002 (always-on triggers).
BEGIN;
CREATE OR REPLACE FUNCTION wa.messages_status_guard() RETURNS trigger
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
    IF wa.status_rank(NEW.status) >= 2 THEN
      NEW.sent_at := coalesce(NEW.sent_at, now());
    END IF;
  END IF;
  RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION wa.messages_status_guard() FROM PUBLIC;
DROP TRIGGER messages_status_guard ON public.messages;
CREATE TRIGGER messages_status_guard BEFORE UPDATE OF status ON public.messages
  FOR EACH ROW EXECUTE FUNCTION wa.messages_status_guard();
DROP TRIGGER messages_insert_guard ON public.messages;
CREATE TRIGGER messages_insert_guard BEFORE INSERT ON public.messages
  FOR EACH ROW EXECUTE FUNCTION wa.messages_insert_guard();
COMMIT;
