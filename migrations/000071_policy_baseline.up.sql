-- Why: zapbase doctor must notice a policy rewritten by hand under the same
-- name (USING (true) in the dashboard), not only added or dropped ones. The
-- text of a policy is only comparable on the server that deparsed it, so the
-- migrations record what they defined here, on the same server:
-- wa.policy_baseline holds every public policy as it stood after the last
-- migration that changed policies. A migration that creates, alters or drops
-- a public policy ends with SELECT wa.record_policy_baseline(); the policy
-- matrix test fails when the baseline and the catalog differ.
BEGIN;

CREATE TABLE wa.policy_baseline (
  tablename   text NOT NULL,
  policyname  text NOT NULL,
  permissive  text NOT NULL,
  roles       text[] NOT NULL,
  cmd         text NOT NULL,
  qual        text,
  with_check  text,
  recorded_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tablename, policyname)
);
REVOKE ALL ON wa.policy_baseline FROM PUBLIC, anon, authenticated;

CREATE FUNCTION wa.record_policy_baseline() RETURNS void
LANGUAGE sql SET search_path = '' AS $$
  DELETE FROM wa.policy_baseline;
  INSERT INTO wa.policy_baseline (tablename, policyname, permissive, roles, cmd, qual, with_check)
  SELECT p.tablename, p.policyname, p.permissive, p.roles::text[], p.cmd, p.qual, p.with_check
    FROM pg_catalog.pg_policies p
   WHERE p.schemaname = 'public';
$$;
REVOKE ALL ON FUNCTION wa.record_policy_baseline() FROM PUBLIC, anon, authenticated;

SELECT wa.record_policy_baseline();

COMMIT;
