package dispatch

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/zapbase/zapbase"
)

// leaseFilter keeps `baileys` rows that name a session for the replica
// holding that session's lease ($3; empty disables the filter). Rows whose
// session is not resolved yet are claimed by anyone and handed over after
// resolution (see route.go).
const leaseFilter = `
   AND ($3::text = '' OR m.provider <> 'baileys' OR m.session_id IS NULL OR EXISTS (
         SELECT 1 FROM wa.session_leases l
          WHERE l.session_id = m.session_id AND l.holder = $3::text AND l.expires_at > now()))`

// claimSet is what every claim statement sets: the owner, the lease deadline
// and one more attempt.
const claimSet = `
   SET status = 'sending', claimed_by = $2, claim_expires_at = now() + make_interval(secs => $4),
       attempts = m.attempts + 1`

const claimReturning = `
  RETURNING m.id::text, m.tenant_id::text, m.session_id::text, m.message_id, m.to_number, m.from_number,
            m.message_type, m.content, m.provider, m.attempts, m.created_at, m.claim_expires_at`

// claimSelect adds, once per tenant of the batch (first row of each tenant),
// what routing and pacing need: the tenant's settings and its active
// sessions with their leases. One statement, one round trip.
const claimSelect = `
SELECT c.*,
       CASE WHEN c.rn = 1 THEN (
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
  FROM (SELECT claimed.*, row_number() OVER (PARTITION BY claimed.tenant_id) AS rn FROM claimed) c`

// wakeSQL claims the given rows if they are pending, outbound and due.
const wakeSQL = `
WITH claimed AS (
  UPDATE public.messages m` + claimSet + `
   WHERE m.id = ANY($1::uuid[]) AND m.status = 'pending' AND m.direction = 'outbound'
     AND m.next_attempt_at <= now()` + leaseFilter + claimReturning + `, false AS recovered
)` + claimSelect

// scanSQL claims due pending rows and rows whose claim expired (a crashed or
// stuck owner), skipping rows other replicas are claiming right now.
const scanSQL = `
WITH due AS (
  SELECT m.id, false AS recovered FROM public.messages m
   WHERE m.status = 'pending' AND m.direction = 'outbound' AND m.next_attempt_at <= now()` + leaseFilter + `
   ORDER BY m.next_attempt_at, m.created_at
   LIMIT $1 FOR UPDATE SKIP LOCKED
), stuck AS (
  SELECT m.id, true AS recovered FROM public.messages m
   WHERE m.status = 'sending' AND m.claim_expires_at < now()` + leaseFilter + `
   ORDER BY m.claim_expires_at
   LIMIT $1 FOR UPDATE SKIP LOCKED
), picked AS (
  SELECT * FROM due UNION ALL SELECT * FROM stuck
), claimed AS (
  UPDATE public.messages m` + claimSet + `
  FROM picked p WHERE m.id = p.id` + claimReturning + `, p.recovered
)` + claimSelect

// claimedRow is one row a claim returned.
type claimedRow struct {
	ID           string
	TenantID     string
	SessionID    string
	MessageID    string
	To           string
	From         string
	Type         zapbase.MessageType
	Content      []byte
	Provider     zapbase.ProviderType
	Attempts     int
	CreatedAt    time.Time
	ClaimExpires time.Time
	Recovered    bool
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

// claim runs a claim statement and decodes its rows and tenants.
func (d *Dispatcher) claim(ctx context.Context, sql string, first any) ([]claimedRow, map[string]*tenantInfo, error) {
	rows, err := d.pool.Query(ctx, sql, first, d.cfg.Owner, d.cfg.LeaseHolder, d.cfg.ClaimTTL.Seconds())
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
			provider                            string
			rn                                  int64
			tenantJSON                          []byte
		)
		if err := rows.Scan(&r.ID, &r.TenantID, &sessionID, &messageID, &to, &from, &typ, &r.Content,
			&provider, &r.Attempts, &r.CreatedAt, &r.ClaimExpires, &r.Recovered, &rn, &tenantJSON); err != nil {
			return nil, nil, fmt.Errorf("scan claimed row: %w", err)
		}
		r.SessionID, r.MessageID, r.To, r.From = deref(sessionID), deref(messageID), deref(to), deref(from)
		r.Type, r.Provider = zapbase.MessageType(deref(typ)), zapbase.ProviderType(provider)
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
	rows, err := d.pool.Query(ctx, prepareSQL, ids, mids, provs, sess, froms, d.cfg.Owner)
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
