-- Why: a tenant's own signed-in users are adversaries (issue 15). Until now
-- `authenticated` could UPDATE every column of messages (turn an outbound row
-- into a fake inbound one that the AI answers, forge receipts, rewrite sent
-- content, steal dispatcher claims), DELETE history, and a `member` could do
-- in SQL what the API reserves for owners and admins (rewrite agents, create
-- sessions past max_sessions, flip a session to connected, resume an AI a
-- human had paused). This migration makes public.* match the policy matrix
-- written in migrations/policy.go (and README, "Segurança e RLS"):
--
--   * column-level GRANTs: clients may INSERT an outbound message with the
--     client columns only (the database fills direction, status and every
--     column the sidecar owns) and may UPDATE/DELETE no message at all;
--   * role-aware policies: owner/admin-only writes where the API requires it;
--   * membership is read once per statement (initPlans): on the hot paths
--     an ARRAY(SELECT ...) over tenant_members, for the role-aware checks
--     STABLE security-definer helpers in schema wa_rls used as
--     (SELECT wa_rls.fn()), returning the caller's tenant ids as an array
--     (Supabase's RLS performance advice); wa_rls holds functions only and
--     PostgREST does not expose it;
--   * an impossible recipient (all zeros, unknown country code, wrong length,
--     invalid Brazilian DDD) is refused by the insert policy, through
--     wa_rls.valid_recipient, the SQL twin of zapbase.CheckRecipient;
--   * max_sessions is enforced by a trigger for every writer;
--   * a member may take a conversation over (pause the AI), never resume it.
--
-- Cost on the hot path: the sidecar connects as the tables' owner (postgres on
-- Supabase), which bypasses RLS and grants; every guard trigger added here has
-- WHEN (current_user IN ('anon', 'authenticated')), so the sidecar's writes
-- never enter plpgsql. No trigger is added to public.messages: its client
-- rules are grants and the insert policy.
BEGIN;

-- Helpers for policies. Callable by authenticated (policies run with the
-- caller's privileges); nothing else lives in this schema.
CREATE SCHEMA wa_rls;
COMMENT ON SCHEMA wa_rls IS 'zapbase RLS helpers (functions only). Not exposed by PostgREST; no tables.';
REVOKE ALL ON SCHEMA wa_rls FROM PUBLIC;
GRANT USAGE ON SCHEMA wa_rls TO authenticated, service_role;

-- Reads and message inserts (the hot paths: supabase-js producers, and
-- Realtime, which runs a SELECT per change and subscriber) do not call a
-- function: their policies read the caller's memberships with an
-- uncorrelated ARRAY(SELECT ...) over tenant_members, which the planner runs
-- once per statement as an initPlan; the nested RLS on tenant_members is the
-- same user_id = auth.uid() filter. Measured, that is cheaper than a
-- SECURITY DEFINER call (its SET search_path costs a GUC save/restore per
-- call). The role-aware checks (rare writes) use the helpers below.
--
-- plpgsql, not sql: a non-inlined sql function is planned again on every
-- call, a plpgsql one keeps its plan for the session. Each runs once per
-- statement (initPlan), whatever the number of rows.

-- Active tenants the caller belongs to (any role): may take a conversation over.
CREATE FUNCTION wa_rls.writable_tenant_ids() RETURNS uuid[]
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  RETURN (SELECT coalesce(array_agg(m.tenant_id), '{}'::uuid[])
            FROM public.tenant_members m
            JOIN public.tenants t ON t.id = m.tenant_id AND t.is_active
           WHERE m.user_id = auth.uid());
END $$;

-- Active tenants the caller owns or administers: may configure them.
CREATE FUNCTION wa_rls.managed_tenant_ids() RETURNS uuid[]
LANGUAGE plpgsql STABLE SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  RETURN (SELECT coalesce(array_agg(m.tenant_id), '{}'::uuid[])
            FROM public.tenant_members m
            JOIN public.tenants t ON t.id = m.tenant_id AND t.is_active
           WHERE m.user_id = auth.uid() AND m.role IN ('owner', 'admin'));
END $$;

-- E.164 validity, the twin of zapbase.CheckPhoneNumber (phone.go); a test
-- compares both over every country-code prefix and length. Not SECURITY
-- DEFINER and without SET, so the planner inlines it into the policy (a SET
-- clause would cost a GUC save/restore per row); every operator and function
-- is schema-qualified, so the caller's search_path cannot change its meaning.
-- Cost, measured: bounded regex repetitions ({7,14}) cost ~2 us per row each,
-- and '{...}'::text[] lists build a hash table in every statement (~6 us), so
-- lengths are compared with length(), and code lists are looked up with
-- strpos() in a string of space-separated codes (a two-digit code can only
-- match at a token start: position mod 3 = 2; three-digit: mod 4 = 2).
CREATE FUNCTION wa_rls.valid_phone_number(n text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN n IS NULL OR pg_catalog.length(n) OPERATOR(pg_catalog.<) 8 OR pg_catalog.length(n) OPERATOR(pg_catalog.>) 15
         OR NOT (n OPERATOR(pg_catalog.~) '^[0-9]+$') THEN false
    -- Brazil: an existing DDD, then 8 digits starting 2-9 (landlines, and
    -- the mobile numbers WhatsApp still knows without the ninth digit) or 9
    -- digits starting with 9 (mobile).
    WHEN pg_catalog.left(n, 2) OPERATOR(pg_catalog.=) '55' THEN
      pg_catalog.strpos(' 11 12 13 14 15 16 17 18 19 21 22 24 27 28 31 32 33 34 35 37 38 41 42 43 44 45 46 47 48 49 51 53 54 '
        '55 61 62 63 64 65 66 67 68 69 71 73 74 75 77 79 81 82 83 84 85 86 87 88 89 91 92 93 94 95 96 97 98 '
        '99 ',
        pg_catalog.substr(n, 3, 2)) OPERATOR(pg_catalog.%) 3 OPERATOR(pg_catalog.=) 2
      AND CASE pg_catalog.length(n)
            WHEN 13 THEN pg_catalog.substr(n, 5, 1) OPERATOR(pg_catalog.=) '9'
            WHEN 12 THEN pg_catalog.substr(n, 5, 1) OPERATOR(pg_catalog.>=) ('2' COLLATE "C")
            ELSE false END
    -- North American Numbering Plan: 10 digits, area code and exchange 2-9.
    WHEN pg_catalog.left(n, 1) OPERATOR(pg_catalog.=) '1' THEN
      pg_catalog.length(n) OPERATOR(pg_catalog.=) 11
      AND pg_catalog.substr(n, 2, 1) OPERATOR(pg_catalog.>=) ('2' COLLATE "C")
      AND pg_catalog.substr(n, 5, 1) OPERATOR(pg_catalog.>=) ('2' COLLATE "C")
    -- Elsewhere: an existing country code (codes are prefix-free) and a
    -- national part that is not all zeros.
    WHEN pg_catalog.left(n, 1) OPERATOR(pg_catalog.=) '7' THEN
      pg_catalog.ltrim(pg_catalog.substr(n, 2), '0') OPERATOR(pg_catalog.<>) ''
    WHEN pg_catalog.strpos(' 20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 56 57 58 60 61 62 63 64 65 66 81 '
        '82 84 86 90 91 92 93 94 95 98 ',
           pg_catalog.left(n, 2)) OPERATOR(pg_catalog.%) 3 OPERATOR(pg_catalog.=) 2 THEN
      pg_catalog.ltrim(pg_catalog.substr(n, 3), '0') OPERATOR(pg_catalog.<>) ''
    WHEN pg_catalog.strpos(' 211 212 213 216 218 220 221 222 223 224 225 226 227 228 229 230 231 232 233 234 235 236 237 238 '
        '239 240 241 242 243 244 245 246 247 248 249 250 251 252 253 254 255 256 257 258 260 261 262 263 264 '
        '265 266 267 268 269 290 291 297 298 299 350 351 352 353 354 355 356 357 358 359 370 371 372 373 374 '
        '375 376 377 378 380 381 382 383 385 386 387 389 420 421 423 500 501 502 503 504 505 506 507 508 509 '
        '590 591 592 593 594 595 596 597 598 599 670 672 673 674 675 676 677 678 679 680 681 682 683 685 686 '
        '687 688 689 690 691 692 800 808 850 852 853 855 856 870 878 880 881 882 883 886 888 960 961 962 963 '
        '964 965 966 967 968 970 971 972 973 974 975 976 977 979 992 993 994 995 996 998 ',
           pg_catalog.left(n, 3)) OPERATOR(pg_catalog.%) 4 OPERATOR(pg_catalog.=) 2 THEN
      pg_catalog.ltrim(pg_catalog.substr(n, 4), '0') OPERATOR(pg_catalog.<>) ''
    ELSE false
  END
$$;

-- What a stored messages.to_number may be, the twin of zapbase.CheckRecipient:
-- international digits (no '+'), a WhatsApp user JID whose user part is a
-- valid number, a group/LID/newsletter/broadcast JID, or a Meta BSUID.
CREATE FUNCTION wa_rls.valid_recipient(r text) RETURNS boolean
LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE
    WHEN r IS NULL THEN false
    WHEN r OPERATOR(pg_catalog.~) '^[0-9]+$' THEN wa_rls.valid_phone_number(r)
    WHEN r OPERATOR(pg_catalog.~) '^[0-9]+(:[0-9]{1,3})?@(s\.whatsapp\.net|c\.us)$' THEN
      wa_rls.valid_phone_number(pg_catalog.substring(r, '^([0-9]+)'))
    WHEN r OPERATOR(pg_catalog.~) '^[0-9A-Za-z._:-]{1,80}@(g\.us|lid|newsletter|broadcast)$' THEN true
    WHEN r OPERATOR(pg_catalog.~) '^[A-Z]{2}\.[A-Za-z0-9.]{1,160}$' THEN true
    ELSE false
  END
$$;

REVOKE ALL ON FUNCTION wa_rls.writable_tenant_ids(), wa_rls.managed_tenant_ids(),
  wa_rls.valid_phone_number(text), wa_rls.valid_recipient(text) FROM PUBLIC, anon;
GRANT EXECUTE ON FUNCTION wa_rls.writable_tenant_ids(), wa_rls.managed_tenant_ids(),
  wa_rls.valid_phone_number(text), wa_rls.valid_recipient(text) TO authenticated, service_role;

-- Replace every policy on zapbase's public tables.
DO $$
DECLARE r record;
BEGIN
  FOR r IN SELECT policyname, tablename FROM pg_policies WHERE schemaname = 'public'
           AND tablename IN ('tenants', 'tenant_members', 'whatsapp_sessions', 'messages', 'ai_agents',
                             'ai_conversations', 'ai_knowledge_documents', 'ai_knowledge_chunks')
  LOOP
    EXECUTE format('DROP POLICY %I ON public.%I', r.policyname, r.tablename);
  END LOOP;
END $$;

-- tenants: members read; owners/admins rename and edit settings.
CREATE POLICY tenants_select ON public.tenants FOR SELECT TO authenticated
  USING (id = ANY (ARRAY(SELECT m.tenant_id FROM public.tenant_members m WHERE m.user_id = (SELECT auth.uid()))));
CREATE POLICY tenants_update ON public.tenants FOR UPDATE TO authenticated
  USING (id = ANY ((SELECT wa_rls.managed_tenant_ids())::uuid[]))
  WITH CHECK (id = ANY ((SELECT wa_rls.managed_tenant_ids())::uuid[]));

-- tenant_members: a user sees their own memberships only.
CREATE POLICY tenant_members_select ON public.tenant_members FOR SELECT TO authenticated
  USING (user_id = (SELECT auth.uid()));

-- Read access for members on every tenant-owned table.
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['whatsapp_sessions', 'messages', 'ai_agents', 'ai_conversations',
                           'ai_knowledge_documents', 'ai_knowledge_chunks'] LOOP
    EXECUTE format('CREATE POLICY %I ON public.%I FOR SELECT TO authenticated '
                   'USING (tenant_id = ANY (ARRAY(SELECT m.tenant_id FROM public.tenant_members m '
                   'WHERE m.user_id = (SELECT auth.uid()))))', t || '_select', t);
  END LOOP;
END $$;

-- messages: any member queues an outbound message to a possible recipient.
-- Direction, status and the sidecar's columns cannot be named (grants
-- below); system/unsupported are inbound-only types. A deactivated tenant's
-- rows are refused by the dispatcher (failed, tenant_inactive), not here:
-- checking tenants.is_active would cost the hot path a function call.
CREATE POLICY messages_insert ON public.messages FOR INSERT TO authenticated
  WITH CHECK (tenant_id = ANY (ARRAY(SELECT m.tenant_id FROM public.tenant_members m WHERE m.user_id = (SELECT auth.uid())))
              AND message_type <> ALL ('{system,unsupported}'::text[])
              AND wa_rls.valid_recipient(to_number));

-- ai_agents and ai_knowledge_documents: owners/admins configure (the API's
-- rule for agents/create, configure and knowledge).
DO $$
DECLARE t text;
BEGIN
  FOREACH t IN ARRAY ARRAY['ai_agents', 'ai_knowledge_documents'] LOOP
    EXECUTE format('CREATE POLICY %I ON public.%I FOR INSERT TO authenticated '
                   'WITH CHECK (tenant_id = ANY ((SELECT wa_rls.managed_tenant_ids())::uuid[]))', t || '_insert', t);
    EXECUTE format('CREATE POLICY %I ON public.%I FOR UPDATE TO authenticated '
                   'USING (tenant_id = ANY ((SELECT wa_rls.managed_tenant_ids())::uuid[])) '
                   'WITH CHECK (tenant_id = ANY ((SELECT wa_rls.managed_tenant_ids())::uuid[]))', t || '_update', t);
    EXECUTE format('CREATE POLICY %I ON public.%I FOR DELETE TO authenticated '
                   'USING (tenant_id = ANY ((SELECT wa_rls.managed_tenant_ids())::uuid[]))', t || '_delete', t);
  END LOOP;
END $$;

-- ai_conversations: members of an active tenant may update the columns
-- granted below; the guard trigger narrows what a plain member may do.
CREATE POLICY ai_conversations_update ON public.ai_conversations FOR UPDATE TO authenticated
  USING (tenant_id = ANY ((SELECT wa_rls.writable_tenant_ids())::uuid[]))
  WITH CHECK (tenant_id = ANY ((SELECT wa_rls.writable_tenant_ids())::uuid[]));

-- Grants: start from nothing, then exactly the matrix.
REVOKE ALL ON public.tenants, public.tenant_members, public.whatsapp_sessions, public.messages,
  public.ai_agents, public.ai_conversations, public.ai_knowledge_documents, public.ai_knowledge_chunks
  FROM PUBLIC, anon, authenticated;
GRANT SELECT ON public.tenants, public.tenant_members, public.whatsapp_sessions, public.messages,
  public.ai_agents, public.ai_conversations, public.ai_knowledge_documents, public.ai_knowledge_chunks
  TO authenticated;
GRANT UPDATE (name, settings) ON public.tenants TO authenticated;
GRANT INSERT (id, tenant_id, session_id, to_number, message_type, content, provider, enable_ai, metadata, traceparent)
  ON public.messages TO authenticated;
GRANT INSERT (id, tenant_id, name, type, configuration, is_active, is_default),
      UPDATE (name, type, configuration, is_active, is_default),
      DELETE ON public.ai_agents TO authenticated;
GRANT UPDATE (state, paused_until, agent_id) ON public.ai_conversations TO authenticated;
GRANT INSERT (id, tenant_id, agent_id, title, category, content, metadata),
      UPDATE (title, category, content, metadata),
      DELETE ON public.ai_knowledge_documents TO authenticated;
GRANT ALL ON public.tenants, public.tenant_members, public.whatsapp_sessions, public.messages,
  public.ai_agents, public.ai_conversations, public.ai_knowledge_documents, public.ai_knowledge_chunks
  TO service_role;

-- wa.messages_insert_guard (000002) stays as defence in depth: with these
-- grants a client cannot name direction or status, so its rows are outbound
-- and pending by default and the guard never refuses one (000140 makes it
-- run only for rows it could refuse).

-- max_sessions for every writer (API, service_role, sidecar). Concurrent
-- inserts for one tenant serialise on a transaction advisory lock, so two
-- requests cannot both take the last slot.
CREATE FUNCTION wa.whatsapp_sessions_quota() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
DECLARE
  lim integer;
  used integer;
BEGIN
  PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtextextended('zapbase.sessions:' || NEW.tenant_id::text, 0));
  SELECT t.max_sessions INTO lim FROM public.tenants t WHERE t.id = NEW.tenant_id;
  SELECT count(*) INTO used FROM public.whatsapp_sessions s WHERE s.tenant_id = NEW.tenant_id;
  IF lim IS NOT NULL AND used >= lim THEN
    RAISE EXCEPTION 'tenant % reached max_sessions (%)', NEW.tenant_id, lim
      USING ERRCODE = 'check_violation', HINT = 'zapbase_session_limit';
  END IF;
  RETURN NEW;
END $$;
REVOKE ALL ON FUNCTION wa.whatsapp_sessions_quota() FROM PUBLIC;
CREATE TRIGGER whatsapp_sessions_quota BEFORE INSERT ON public.whatsapp_sessions
  FOR EACH ROW EXECUTE FUNCTION wa.whatsapp_sessions_quota();

-- Human takeover: a plain member may pause the AI of a conversation
-- (state paused/handoff with a pause that ends no earlier than the current
-- one), never resume it or shorten a pause; only owners and admins may
-- resume or assign an agent. Client roles only (WHEN): the sidecar never
-- enters these functions. UPDATE OF fires when the column is a SET target,
-- even with an unchanged value, so a member cannot name agent_id at all.
CREATE FUNCTION wa.ai_conversations_takeover_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  IF NEW.state IS NOT DISTINCT FROM OLD.state AND NEW.paused_until IS NOT DISTINCT FROM OLD.paused_until THEN
    RETURN NEW;
  END IF;
  IF NEW.tenant_id = ANY (wa_rls.managed_tenant_ids()) THEN
    RETURN NEW;
  END IF;
  IF NEW.state IN ('paused', 'handoff') AND NEW.paused_until IS NOT NULL
     AND (OLD.state = 'active' OR OLD.paused_until IS NULL OR OLD.paused_until <= now()
          OR NEW.paused_until >= OLD.paused_until) THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'members may pause a conversation (take it over); only owners and admins may resume it'
    USING ERRCODE = 'insufficient_privilege', HINT = 'zapbase_takeover';
END $$;

CREATE FUNCTION wa.ai_conversations_assign_guard() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = '' AS $$
BEGIN
  IF NEW.tenant_id = ANY (wa_rls.managed_tenant_ids()) THEN
    RETURN NEW;
  END IF;
  RAISE EXCEPTION 'only owners and admins may assign an agent to a conversation'
    USING ERRCODE = 'insufficient_privilege', HINT = 'zapbase_takeover';
END $$;

REVOKE ALL ON FUNCTION wa.ai_conversations_takeover_guard(), wa.ai_conversations_assign_guard() FROM PUBLIC;
CREATE TRIGGER ai_conversations_takeover_guard BEFORE UPDATE OF state, paused_until ON public.ai_conversations
  FOR EACH ROW WHEN (current_user IN ('anon', 'authenticated'))
  EXECUTE FUNCTION wa.ai_conversations_takeover_guard();
CREATE TRIGGER ai_conversations_assign_guard BEFORE UPDATE OF agent_id ON public.ai_conversations
  FOR EACH ROW WHEN (current_user IN ('anon', 'authenticated'))
  EXECUTE FUNCTION wa.ai_conversations_assign_guard();

COMMIT;
