package dispatch

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/tracing"
)

// A claim is two steps in one place, so routing has one implementation:
//
//  1. read the candidate rows with what routing needs (the row's session,
//     provider, type, recipient, and once per tenant its settings and
//     sessions with their leases);
//  2. route every candidate in Go (route.go) and claim them with ONE
//     UPDATE that also stores the decision: provider, session, sending
//     number and — for providers with caller ids — the provider message id,
//     so the id is durable before any send and a resend after a crash
//     reuses it.
//
// The wake path reads without locking (the UPDATE re-checks that each row is
// still pending, outbound and due: a row another claimer took meanwhile is
// simply not returned). The reconciliation scan reads with FOR UPDATE SKIP
// LOCKED inside a transaction that also runs the UPDATE, so replicas
// scanning together never claim a row twice.

// leaseFilter keeps `baileys` rows that name a session for the replica
// holding that session's lease (@LEASE@; empty disables the filter). Rows
// whose session is not resolved yet are claimed by anyone and handed over
// after routing (route.go).
const leaseFilter = `
   AND (@LEASE@::text = '' OR m.provider <> 'baileys' OR m.session_id IS NULL OR EXISTS (
         SELECT 1 FROM wa.session_leases l
          WHERE l.session_id = m.session_id AND l.holder = @LEASE@::text AND l.expires_at > now()))`

func withLease(sql, param string) string { return strings.ReplaceAll(sql, "@LEASE@", param) }

// candidateColumns are what routing reads of a row, plus (first row of
// each tenant only) the tenant's routing data: settings and active sessions
// with their leases, as one JSON document.
const candidateColumns = `
SELECT c.id::text, c.tenant_id::text, c.session_id::text, c.message_id, c.provider, c.message_type,
       c.to_number, c.from_number, c.created_at, c.recovered,
       CASE WHEN c.tn = 1 THEN (
         SELECT json_build_object(
           'active', t.is_active, 'defaultProvider', t.default_provider, 'settings', t.settings,
           'sessions', coalesce((
             SELECT json_agg(json_build_object(
                      'id', s.id, 'provider', s.provider_type, 'state', s.state, 'phone', s.phone_number,
                      'data', s.session_data, 'holder', l.holder, 'leaseValid', l.expires_at > now())
                    ORDER BY s.created_at, s.id)
               FROM public.whatsapp_sessions s
               LEFT JOIN wa.session_leases l ON l.session_id = s.id
              WHERE s.tenant_id = t.id AND s.is_active), '[]'::json))
           FROM public.tenants t WHERE t.id = c.tenant_id)
       END AS tenant`

// wakeReadSQL reads the given rows ($1) if they are pending, outbound and
// due (lease holder $2).
var wakeReadSQL = candidateColumns + `
  FROM (SELECT m.*, false AS recovered, row_number() OVER (PARTITION BY m.tenant_id) AS tn
          FROM public.messages m
         WHERE m.id = ANY($1::uuid[]) AND m.status = 'pending' AND m.direction = 'outbound'
           AND m.next_attempt_at <= now()` + withLease(leaseFilter, "$2") + `) c`

// scanReadSQL locks up to $1 due pending rows and up to $1 rows whose claim
// expired (a crashed or stuck owner), skipping rows other replicas are
// claiming right now. A dispatcher never recovers its own claims: it knows
// what it is sending, and every process has a fresh owner id (Config.Owner),
// so a restarted process recovers what its previous life left behind.
var scanReadSQL = `
WITH due AS (
  SELECT m.id, false AS recovered FROM public.messages m
   WHERE m.status = 'pending' AND m.direction = 'outbound' AND m.next_attempt_at <= now()` + withLease(leaseFilter, "$3") + `
   ORDER BY m.next_attempt_at, m.seq
   LIMIT $1 FOR UPDATE SKIP LOCKED
), stuck AS (
  SELECT m.id, true AS recovered FROM public.messages m
   WHERE m.status = 'sending' AND m.claim_expires_at < now()
     AND m.claimed_by IS DISTINCT FROM $2` + withLease(leaseFilter, "$3") + `
   ORDER BY m.claim_expires_at
   LIMIT $1 FOR UPDATE SKIP LOCKED
)` + candidateColumns + `
  FROM (SELECT m.*, p.recovered, row_number() OVER (PARTITION BY m.tenant_id) AS tn
          FROM (SELECT * FROM due UNION ALL SELECT * FROM stuck) p
          JOIN public.messages m ON m.id = p.id) c`

// claimSQL claims the routed rows and stores the routing decision ($5..$8,
// NULL where routing decided nothing to store). A row without trace context
// gets the claim's ($4: the change-stream event or scan that found it; NULL
// when tracing is off), so its send joins that trace even after a restart.
// @WHERE@ re-checks claimability (wake) or nothing more (scan: the rows are
// locked by this transaction). Rows are locked first, in id order, skipping
// rows another claimer holds (it is claiming them): concurrent claims of
// overlapping rows neither wait for each other nor deadlock, whatever join
// order the planner picks for the UPDATE.
const claimSQL = `
WITH lk AS (
  SELECT m.id FROM public.messages m
   WHERE m.id = ANY($1::uuid[]) @WHERE@
   ORDER BY m.id FOR UPDATE SKIP LOCKED
)
UPDATE public.messages m
   SET status = 'sending', claimed_by = $2, claim_expires_at = now() + make_interval(secs => $3),
       attempts = m.attempts + 1,
       provider = coalesce(v.provider, m.provider),
       session_id = coalesce(v.session_id, m.session_id),
       from_number = coalesce(m.from_number, v.from_number),
       message_id = coalesce(m.message_id, v.message_id),
       traceparent = coalesce(m.traceparent, $4::text)
  FROM unnest($1::uuid[], $5::text[], $6::uuid[], $7::text[], $8::text[])
       AS v(id, provider, session_id, from_number, message_id)
  JOIN lk USING (id)
 WHERE m.id = v.id
RETURNING m.id::text, m.tenant_id::text, m.session_id::text, m.message_id, m.to_number, m.from_number,
          m.message_type, m.content, m.provider, m.attempts, m.created_at, m.claim_expires_at, m.seq,
          m.traceparent`

var (
	wakeClaimSQL = strings.ReplaceAll(claimSQL, "@WHERE@",
		`AND m.status = 'pending' AND m.direction = 'outbound' AND m.next_attempt_at <= now()`+withLease(leaseFilter, "$9"))
	scanClaimSQL = strings.ReplaceAll(claimSQL, "@WHERE@", `AND m.status IN ('pending', 'sending')`)
)

// candidate is a row a claim may take, as routing sees it.
type candidate struct {
	ID, TenantID, SessionID, MessageID string
	Provider                           zapbase.ProviderType
	Type                               zapbase.MessageType
	To, From                           string
	CreatedAt                          time.Time
	// Recovered: the row was stuck in sending (a crashed owner).
	Recovered bool
}

// claimedRow is one row a claim returned.
type claimedRow struct {
	ID        string
	TenantID  string
	SessionID string
	MessageID string
	To        string
	From      string
	Type      zapbase.MessageType
	Content   []byte
	Provider  zapbase.ProviderType
	Attempts  int
	CreatedAt time.Time
	// Seq is the row's insertion position (messages.seq): the order of a chat.
	Seq          int64
	ClaimExpires time.Time
	// Traceparent is the row's trace context (W3C), "" when none.
	Traceparent string
	Recovered   bool
}

// tenantInfo is the per-tenant routing data read with the candidates.
type tenantInfo struct {
	Active          bool                 `json:"active"`
	DefaultProvider zapbase.ProviderType `json:"defaultProvider"`
	Settings        tenantSettings       `json:"settings"`
	Sessions        []sessionInfo        `json:"sessions"`
}

// tenantSettings are the keys of tenants.settings dispatch reads.
type tenantSettings struct {
	// PreferredProvider wins over default_provider for `auto` messages.
	PreferredProvider zapbase.ProviderType `json:"preferredProvider"`
	Dispatch          struct {
		// MessagesPerSecond caps the tenant across all its numbers.
		MessagesPerSecond *float64 `json:"messagesPerSecond"`
		// NumberMessagesPerSecond caps each of the tenant's numbers.
		NumberMessagesPerSecond *float64 `json:"numberMessagesPerSecond"`
	} `json:"dispatch"`
}

type sessionInfo struct {
	ID         string               `json:"id"`
	Provider   zapbase.ProviderType `json:"provider"`
	State      string               `json:"state"`
	Phone      string               `json:"phone"`
	Data       sessionData          `json:"data"`
	Holder     *string              `json:"holder"`
	LeaseValid *bool                `json:"leaseValid"`
}

type sessionData struct {
	// MessagesPerSecond caps this number (wins over tenant and defaults).
	MessagesPerSecond *float64 `json:"messagesPerSecond"`
}

// claimQueryTimeout bounds one claim.
const claimQueryTimeout = 30 * time.Second

// querier is a pool or a transaction.
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// asyncClaim reports whether a claim may commit without waiting for its WAL
// flush (synchronous_commit off for that transaction only). A claim exists
// so that the provider id is durable before the send and no other replica
// sends the row meanwhile. If the database crashes before an asynchronous
// claim reaches disk, the row is simply pending again: the reconciler
// claims it anew and — because every row of the claim has a stable provider
// id (providers.StableIDGenerator) or one stored by an earlier durable
// claim — resends it with the id the channel already saw, which the channel
// deduplicates, exactly as after a process crash mid-send. Rows routed to a
// provider without caller ids (Meta) keep a synchronous claim: there a lost
// claim would hide that a send may have happened.
func asyncClaim(routes map[string]*decisionRoute) bool {
	if len(routes) == 0 {
		return false
	}
	for _, rt := range routes {
		if rt.outcome == nil && !rt.stable {
			return false
		}
	}
	return true
}

// readCandidates runs a candidate read and decodes its rows and tenants.
func (d *Dispatcher) readCandidates(ctx context.Context, q querier, sql string, args ...any) ([]candidate, map[string]*tenantInfo, error) {
	rows, err := q.Query(ctx, sql, append([]any{pgx.QueryExecModeCacheDescribe}, args...)...)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var out []candidate
	tenants := map[string]*tenantInfo{}
	for rows.Next() {
		var (
			c                              candidate
			sessionID, messageID, to, from *string
			provider, typ                  string
			tenantJSON                     []byte
		)
		if err := rows.Scan(&c.ID, &c.TenantID, &sessionID, &messageID, &provider, &typ, &to, &from,
			&c.CreatedAt, &c.Recovered, &tenantJSON); err != nil {
			return nil, nil, fmt.Errorf("scan candidate row: %w", err)
		}
		c.SessionID, c.MessageID, c.To, c.From = deref(sessionID), deref(messageID), deref(to), deref(from)
		c.Provider, c.Type = zapbase.ProviderType(provider), zapbase.MessageType(typ)
		if tenantJSON != nil {
			ti := &tenantInfo{}
			if err := json.Unmarshal(tenantJSON, ti); err != nil {
				// A malformed settings document must not stall the queue:
				// route with what decoded and default pacing.
				d.log.Warn("decode tenant routing data", "tenant_id", c.TenantID, "error", err)
			}
			tenants[c.TenantID] = ti
		}
		out = append(out, c)
	}
	return out, tenants, rows.Err()
}

// claimRouted routes the candidates and claims them with one UPDATE that
// stores the decisions. It returns the claimed rows and every candidate's
// decision.
func (d *Dispatcher) claimRouted(ctx context.Context, q querier, sql string, cands []candidate,
	tenants map[string]*tenantInfo, extra ...any) ([]claimedRow, map[string]*decisionRoute, error) {
	now := time.Now()
	n := len(cands)
	ids := make([]string, n)
	provs, sess, froms, mids := make([]*string, n), make([]*string, n), make([]*string, n), make([]*string, n)
	routes := make(map[string]*decisionRoute, n)
	for i, c := range cands {
		ids[i] = c.ID
		rt := d.route(c, tenants[c.TenantID], now)
		routes[c.ID] = rt
		if rt.store {
			provs[i], sess[i] = ptr(string(rt.session.Provider)), ptr(rt.session.ID)
			if c.From == "" && rt.session.Phone != "" {
				froms[i] = ptr(rt.session.Phone)
			}
			if rt.messageID != "" {
				mids[i] = ptr(rt.messageID)
			}
		}
	}
	claimArgs := []any{ids, d.cfg.Owner, d.cfg.ClaimTTL.Seconds(), tracing.TraceparentOrNil(ctx), provs, sess, froms, mids}
	claimArgs = append(claimArgs, extra...)
	var (
		rows pgx.Rows
		err  error
	)
	if asyncClaim(routes) {
		// Nothing in this claim needs its WAL flushed before the send (see
		// asyncClaim): set_config(…, true) applies to this claim's own
		// transaction only, sent with it in one round trip.
		b := &pgx.Batch{}
		b.Queue(`SELECT set_config('synchronous_commit', 'off', true)`)
		b.Queue(sql, claimArgs...)
		br := q.SendBatch(ctx, b)
		defer br.Close()
		if _, err := br.Exec(); err != nil {
			return nil, nil, err
		}
		rows, err = br.Query()
	} else {
		rows, err = q.Query(ctx, sql, append([]any{pgx.QueryExecModeCacheDescribe}, claimArgs...)...)
	}
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	recovered := make(map[string]bool, n)
	for _, c := range cands {
		if c.Recovered {
			recovered[c.ID] = true
		}
	}
	var out []claimedRow
	for rows.Next() {
		var (
			r                                   claimedRow
			sessionID, messageID, to, from, typ *string
			traceparent                         *string
			provider                            string
		)
		if err := rows.Scan(&r.ID, &r.TenantID, &sessionID, &messageID, &to, &from, &typ, &r.Content,
			&provider, &r.Attempts, &r.CreatedAt, &r.ClaimExpires, &r.Seq, &traceparent); err != nil {
			return nil, nil, fmt.Errorf("scan claimed row: %w", err)
		}
		r.SessionID, r.MessageID, r.To, r.From = deref(sessionID), deref(messageID), deref(to), deref(from)
		r.Traceparent = deref(traceparent)
		r.Type, r.Provider = zapbase.MessageType(deref(typ)), zapbase.ProviderType(provider)
		r.Recovered = recovered[r.ID]
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	return out, routes, nil
}

// claimWake claims the given rows (sorted by id: rows are locked in id
// order, as every multi-row write does) if they are pending, outbound and
// due. The claim commits on its own; once sent it must be read to the end,
// or rows would stay claimed until their lease expires, so a caller's
// cancellation (shutdown, a client gone) must not abandon it midway: it runs
// detached, bounded by its own timeout.
func (d *Dispatcher) claimWake(ctx context.Context, ids []string) ([]claimedRow, map[string]*decisionRoute, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), claimQueryTimeout)
	defer cancel()
	cands, tenants, err := d.readCandidates(ctx, d.pool, wakeReadSQL, ids, d.cfg.LeaseHolder)
	if err != nil || len(cands) == 0 {
		return nil, nil, err
	}
	return d.claimRouted(ctx, d.pool, wakeClaimSQL, cands, tenants, d.cfg.LeaseHolder)
}

// claimScan locks, routes and claims up to n due rows and n expired claims
// in one transaction.
func (d *Dispatcher) claimScan(ctx context.Context, n int) ([]claimedRow, map[string]*decisionRoute, error) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), claimQueryTimeout)
	defer cancel()
	tx, err := d.pool.Begin(ctx)
	if err != nil {
		return nil, nil, err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // no-op after Commit
	cands, tenants, err := d.readCandidates(ctx, tx, scanReadSQL, n, d.cfg.Owner, d.cfg.LeaseHolder)
	if err != nil || len(cands) == 0 {
		return nil, nil, err
	}
	rows, routes, err := d.claimRouted(ctx, tx, scanClaimSQL, cands, tenants)
	if err != nil {
		return nil, nil, err
	}
	if err := tx.Commit(ctx); err != nil {
		return nil, nil, err
	}
	return rows, routes, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
