package dispatch

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/tracing"
)

// leaseFilter keeps `baileys` rows that name a session for the replica
// holding that session's lease ($3; empty disables the filter). Rows whose
// session is not resolved yet are claimed by anyone and handed over after
// resolution (see route.go).
const leaseFilter = `
   AND ($3::text = '' OR m.provider <> 'baileys' OR m.session_id IS NULL OR EXISTS (
         SELECT 1 FROM wa.session_leases l
          WHERE l.session_id = m.session_id AND l.holder = $3::text AND l.expires_at > now()))`

// routedCTE resolves, inside the claim statement, the session a row will be
// sent from when one is usable now (connected, of a registered provider $8):
// the row's own session, else the tenant's sessions of the row's provider,
// else (auto) all its sessions with the preferred provider first. The claim
// then stores provider, session, sending number and — for providers with
// caller ids — a provider message id generated beforehand ($5 types, $6
// ids, $7 ids per type), so the id is durable before any send and a resend
// after a crash reuses it. Go's route() makes the same choice from the same
// snapshot and handles everything else (waiting, failing, handing over).
const routedCTE = `
routed AS (
  SELECT p.id, p.rn, p.recovered, m.provider AS old_provider,
         s.id AS sid, s.provider_type AS sprov, s.phone_number AS sphone
    FROM picked p
    JOIN public.messages m ON m.id = p.id
    JOIN public.tenants t ON t.id = m.tenant_id
    LEFT JOIN LATERAL (
      SELECT s.id, s.provider_type, s.phone_number
        FROM public.whatsapp_sessions s
       WHERE s.tenant_id = m.tenant_id AND s.is_active AND s.state = 'connected'
         AND s.provider_type = ANY($8::text[])
         AND (m.session_id IS NULL OR s.id = m.session_id)
         AND (m.provider = 'auto' OR s.provider_type = m.provider)
       ORDER BY (s.provider_type = CASE
                   WHEN m.provider <> 'auto' THEN m.provider
                   WHEN t.settings->>'preferredProvider' IN ('baileys', 'meta_api', 'sandbox') THEN t.settings->>'preferredProvider'
                   ELSE t.default_provider END) DESC,
                s.created_at, s.id
       LIMIT 1) s ON true
)`

// claimUpdate claims the routed rows: owner, lease deadline, one more
// attempt, and the routing decision. A row without trace context gets the
// claim's ($9: the change-stream event or scan that found it; NULL when
// tracing is off), so its send joins that trace even after a restart.
const claimUpdate = `
claimed AS (
  UPDATE public.messages m
     SET status = 'sending', claimed_by = $2, claim_expires_at = now() + make_interval(secs => $4),
         attempts = m.attempts + 1,
         provider = coalesce(r.sprov, m.provider),
         session_id = coalesce(r.sid, m.session_id),
         from_number = coalesce(m.from_number, r.sphone),
         traceparent = coalesce(m.traceparent, $9::text),
         message_id = coalesce(m.message_id, CASE WHEN array_position($5::text[], r.sprov) IS NOT NULL
                        THEN ($6::text[])[(array_position($5::text[], r.sprov) - 1) * $7 + r.rn] END)
    FROM routed r
   WHERE m.id = r.id %s
  RETURNING m.id::text, m.tenant_id::text, m.session_id::text, m.message_id, m.to_number, m.from_number,
            m.message_type, m.content, m.provider, m.attempts, m.created_at, m.claim_expires_at, m.seq,
            m.traceparent, r.recovered, r.old_provider
)`

// claimSelect adds, once per tenant of the batch (first row of each tenant),
// what routing and pacing need: the tenant's settings and its active
// sessions with their leases. One statement, one round trip.
const claimSelect = `
SELECT c.*,
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
           FROM public.tenants t WHERE t.id = c.tenant_id::uuid)
       END AS tenant
  FROM (SELECT claimed.*, row_number() OVER (PARTITION BY claimed.tenant_id) AS tn FROM claimed) c`

// wakeSQL claims the given rows ($1) if they are pending, outbound and due.
var wakeSQL = `
WITH picked AS (
  SELECT w.id, w.rn, false AS recovered FROM unnest($1::uuid[]) WITH ORDINALITY AS w(id, rn)
),` + routedCTE + `,` + fmt.Sprintf(claimUpdate, `
     AND m.status = 'pending' AND m.direction = 'outbound' AND m.next_attempt_at <= now()`+leaseFilter) + claimSelect

// scanSQL claims up to $1 due pending rows and up to $1 rows whose claim
// expired (a crashed or stuck owner), skipping rows other replicas are
// claiming right now. A dispatcher never recovers its own claims: it knows
// what it is sending, and every process has a fresh owner id (Config.Owner),
// so a restarted process recovers what its previous life left behind.
var scanSQL = `
WITH due AS (
  SELECT m.id, false AS recovered FROM public.messages m
   WHERE m.status = 'pending' AND m.direction = 'outbound' AND m.next_attempt_at <= now()` + leaseFilter + `
   ORDER BY m.next_attempt_at, m.seq
   LIMIT $1 FOR UPDATE SKIP LOCKED
), stuck AS (
  SELECT m.id, true AS recovered FROM public.messages m
   WHERE m.status = 'sending' AND m.claim_expires_at < now()
     AND m.claimed_by IS DISTINCT FROM $2` + leaseFilter + `
   ORDER BY m.claim_expires_at
   LIMIT $1 FOR UPDATE SKIP LOCKED
), picked AS (
  SELECT x.id, x.recovered, row_number() OVER () AS rn FROM (SELECT * FROM due UNION ALL SELECT * FROM stuck) x
),` + routedCTE + `,` + fmt.Sprintf(claimUpdate, "") + claimSelect

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
	// OldProvider is the provider column before this claim (auto: the row
	// was never routed, so never sent).
	OldProvider zapbase.ProviderType
}

// tenantInfo is the per-tenant routing data returned with a claim.
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

// claimQueryTimeout bounds one claim statement.
const claimQueryTimeout = 30 * time.Second

// claim runs a claim statement for up to n rows and decodes its rows and
// tenants. Provider message ids are generated here, n per provider with
// caller ids, before the statement runs.
func (d *Dispatcher) claim(ctx context.Context, sql string, first any, n int) ([]claimedRow, map[string]*tenantInfo, error) {
	var registered, genTypes, genIDs []string
	for _, t := range d.registry.Types() {
		registered = append(registered, string(t))
		if gen, ok := d.registry.Get(t).(providers.IDGenerator); ok {
			genTypes = append(genTypes, string(t))
			for range n {
				genIDs = append(genIDs, gen.NewMessageID())
			}
		}
	}
	// The claim commits on its own (one statement): once sent it must be
	// read to the end, or rows would stay claimed until their lease expires.
	// A caller's cancellation (shutdown, a client gone) must not abandon it
	// midway, so it runs detached, bounded by its own timeout.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), claimQueryTimeout)
	defer cancel()
	// Custom plans: a generic plan of this statement is two orders of
	// magnitude slower (it cannot see the batch size or the tenant).
	rows, err := d.pool.Query(ctx, sql, pgx.QueryExecModeCacheDescribe, first, d.cfg.Owner, d.cfg.LeaseHolder, d.cfg.ClaimTTL.Seconds(),
		genTypes, genIDs, n, registered, tracing.TraceparentOrNil(ctx))
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var out []claimedRow
	tenants := map[string]*tenantInfo{}
	for rows.Next() {
		var (
			r                                   claimedRow
			sessionID, messageID, to, from, typ *string
			traceparent                         *string
			provider, oldProvider               string
			rn                                  int64
			tenantJSON                          []byte
		)
		if err := rows.Scan(&r.ID, &r.TenantID, &sessionID, &messageID, &to, &from, &typ, &r.Content,
			&provider, &r.Attempts, &r.CreatedAt, &r.ClaimExpires, &r.Seq, &traceparent, &r.Recovered, &oldProvider, &rn, &tenantJSON); err != nil {
			return nil, nil, fmt.Errorf("scan claimed row: %w", err)
		}
		r.SessionID, r.MessageID, r.To, r.From = deref(sessionID), deref(messageID), deref(to), deref(from)
		r.Traceparent = deref(traceparent)
		r.Type, r.Provider = zapbase.MessageType(deref(typ)), zapbase.ProviderType(provider)
		r.OldProvider = zapbase.ProviderType(oldProvider)
		if tenantJSON != nil {
			ti := &tenantInfo{}
			if err := json.Unmarshal(tenantJSON, ti); err != nil {
				// A malformed settings document must not stall the queue:
				// route with what decoded and default pacing.
				d.log.Warn("decode tenant routing data", "tenant_id", r.TenantID, "error", err)
			}
			tenants[r.TenantID] = ti
		}
		out = append(out, r)
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	return out, tenants, nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

// prepareSQL stores, before the send, what routing decided: the provider
// message id (so a resend after a crash reuses it), the provider, the
// session and the sending number. Only rows still claimed by us are touched.
const prepareSQL = `
UPDATE public.messages m
   SET message_id = coalesce(m.message_id, v.message_id),
       provider = v.provider,
       session_id = v.session_id,
       from_number = coalesce(m.from_number, v.from_number)
  FROM unnest($1::uuid[], $2::text[], $3::text[], $4::uuid[], $5::text[])
       AS v(id, message_id, provider, session_id, from_number)
 WHERE m.id = v.id AND m.status = 'sending' AND m.claimed_by = $6
RETURNING m.id::text, m.message_id`

func (d *Dispatcher) prepare(ctx context.Context, jobs []*job) (map[string]string, error) {
	n := len(jobs)
	ids, mids, provs, sess, froms := make([]string, n), make([]*string, n), make([]string, n), make([]string, n), make([]*string, n)
	for i, j := range jobs {
		ids[i], provs[i], sess[i] = j.id, string(j.ptype), j.sessionID
		if j.messageID != "" {
			mids[i] = &j.messageID
		}
		if j.from != "" {
			froms[i] = &j.from
		}
	}
	rows, err := d.pool.Query(ctx, prepareSQL, pgx.QueryExecModeCacheDescribe, ids, mids, provs, sess, froms, d.cfg.Owner)
	if err != nil {
		return nil, fmt.Errorf("prepare claimed rows: %w", err)
	}
	got, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (struct{ id, mid string }, error) {
		var v struct{ id, mid string }
		var mid *string
		err := r.Scan(&v.id, &mid)
		v.mid = deref(mid)
		return v, err
	})
	if err != nil {
		return nil, fmt.Errorf("prepare claimed rows: %w", err)
	}
	out := make(map[string]string, len(got))
	for _, v := range got {
		out[v.id] = v.mid
	}
	return out, nil
}
