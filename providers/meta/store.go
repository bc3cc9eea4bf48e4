package meta

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/pgerr"
	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/secret"
)

// Credentials are a session's Meta settings. Everything but the two ids is
// secret: sealed in wa.session_secrets, never returned or logged.
type Credentials struct {
	PhoneNumberID string `json:"phoneNumberId"`
	WABAID        string `json:"wabaId"`
	AccessToken   string `json:"accessToken"`
	AppSecret     string `json:"appSecret"`
	VerifyToken   string `json:"verifyToken"`
}

// String never prints secrets.
func (c Credentials) String() string {
	return fmt.Sprintf("meta credentials(phone_number_id=%s waba_id=%s)", c.PhoneNumberID, c.WABAID)
}

// LogValue keeps secrets out of slog.
func (c Credentials) LogValue() any { return c.String() }

var graphIDPattern = regexp.MustCompile(`^[0-9]{1,32}$`)

// validate checks the Options JSON of Initialize; messages in pt-BR.
func (c Credentials) validate() error {
	switch {
	case !graphIDPattern.MatchString(c.PhoneNumberID):
		return zapbase.Errorf(zapbase.CodeInvalidInput, "meta.phoneNumberId é obrigatório e deve conter apenas dígitos (o ID do número no Gerenciador do WhatsApp, não o telefone)")
	case !graphIDPattern.MatchString(c.WABAID):
		return zapbase.Errorf(zapbase.CodeInvalidInput, "meta.wabaId é obrigatório e deve conter apenas dígitos")
	case strings.TrimSpace(c.AccessToken) == "":
		return zapbase.Errorf(zapbase.CodeInvalidInput, "meta.accessToken é obrigatório")
	case strings.TrimSpace(c.AppSecret) == "":
		return zapbase.Errorf(zapbase.CodeInvalidInput, "meta.appSecret é obrigatório (Configurações do app > Básico > Chave secreta do app)")
	case len(c.VerifyToken) < 8:
		return zapbase.Errorf(zapbase.CodeInvalidInput, "meta.verifyToken é obrigatório e deve ter pelo menos 8 caracteres")
	}
	return nil
}

func hashVerifyToken(token string) []byte {
	sum := sha256.Sum256([]byte("zapbase-meta-verify:" + token))
	return sum[:]
}

// store is the SQL of the Meta channel.
type store struct {
	pool *pgxpool.Pool
	box  *secret.Box
	// events receives corrections to message rows (the store never writes
	// public.messages).
	events providers.EventSink
}

// sessionRow is what a send needs about a session.
type sessionRow struct {
	TenantID    string
	SessionID   string
	PhoneNumber string
	State       string
	Until       *time.Time   // state_until (end of a temporary block)
	Creds       *Credentials // nil when logged out
}

func (s *store) saveSession(ctx context.Context, p providers.InitializeParams, c Credentials) error {
	plain, err := json.Marshal(c)
	if err != nil {
		return fmt.Errorf("encode credentials: %w", err)
	}
	keyID, sealed, err := s.box.Seal(plain, []byte(p.SessionID))
	if err != nil {
		return fmt.Errorf("seal credentials: %w", err)
	}
	data, _ := json.Marshal(map[string]string{"phoneNumberId": c.PhoneNumberID, "wabaId": c.WABAID})
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		tag, err := tx.Exec(ctx, `
UPDATE public.whatsapp_sessions
   SET provider_type = 'meta_api', session_data = session_data || $3::jsonb,
       state = 'connecting', state_reason = NULL, state_until = NULL, is_active = true
 WHERE id = $1 AND tenant_id = $2`, p.SessionID, p.TenantID, data)
		if err != nil {
			return fmt.Errorf("update session: %w", err)
		}
		if tag.RowsAffected() == 0 {
			_, err = tx.Exec(ctx, `
INSERT INTO public.whatsapp_sessions (id, tenant_id, phone_number, provider_type, session_data, state)
VALUES ($1, $2, $3, 'meta_api', $4, 'connecting')`, p.SessionID, p.TenantID, p.PhoneNumber, data)
			if err != nil {
				if pgerr.IsUniqueViolation(err) {
					return zapbase.Errorf(zapbase.CodeConflict, "já existe uma sessão para este número neste cliente")
				}
				return fmt.Errorf("insert session: %w", err)
			}
		}
		_, err = tx.Exec(ctx, `
INSERT INTO wa.session_secrets (session_id, tenant_id, key_id, ciphertext)
VALUES ($1, $2, $3, $4)
ON CONFLICT (session_id) DO UPDATE SET key_id = EXCLUDED.key_id, ciphertext = EXCLUDED.ciphertext, updated_at = now()`,
			p.SessionID, p.TenantID, keyID, sealed)
		if err != nil {
			return fmt.Errorf("store credentials: %w", err)
		}
		// A number belongs to one session: drop this session's old number,
		// refuse a number another session owns.
		if _, err := tx.Exec(ctx, `DELETE FROM wa.meta_numbers WHERE session_id = $1 AND phone_number_id <> $2`,
			p.SessionID, c.PhoneNumberID); err != nil {
			return fmt.Errorf("replace meta number: %w", err)
		}
		tag, err = tx.Exec(ctx, `
INSERT INTO wa.meta_numbers (phone_number_id, session_id, tenant_id, waba_id, verify_token_hash)
VALUES ($1, $2, $3, $4, $5)
ON CONFLICT (phone_number_id) DO UPDATE SET waba_id = EXCLUDED.waba_id, verify_token_hash = EXCLUDED.verify_token_hash
 WHERE wa.meta_numbers.session_id = EXCLUDED.session_id`,
			c.PhoneNumberID, p.SessionID, p.TenantID, c.WABAID, hashVerifyToken(c.VerifyToken))
		if err != nil {
			return fmt.Errorf("route meta number: %w", err)
		}
		if tag.RowsAffected() == 0 {
			return zapbase.Errorf(zapbase.CodeConflict, "este phoneNumberId já está configurado em outra sessão")
		}
		return nil
	})
}

func (s *store) open(sessionID string, keyID string, sealed []byte) (*Credentials, error) {
	plain, err := s.box.Open(keyID, sealed, []byte(sessionID))
	if err != nil {
		return nil, fmt.Errorf("open credentials of session %s: %w", sessionID, err)
	}
	var c Credentials
	if err := json.Unmarshal(plain, &c); err != nil {
		return nil, fmt.Errorf("decode credentials of session %s: %w", sessionID, err)
	}
	return &c, nil
}

// session loads a session with its credentials (Creds nil without them).
func (s *store) session(ctx context.Context, sessionID string) (*sessionRow, error) {
	var r sessionRow
	var keyID *string
	var sealed []byte
	err := s.pool.QueryRow(ctx, `
SELECT s.tenant_id, s.id, s.phone_number, s.state, s.state_until, sec.key_id, sec.ciphertext
  FROM public.whatsapp_sessions s
  LEFT JOIN wa.session_secrets sec ON sec.session_id = s.id
 WHERE s.id = $1 AND s.provider_type = 'meta_api'`, sessionID).
		Scan(&r.TenantID, &r.SessionID, &r.PhoneNumber, &r.State, &r.Until, &keyID, &sealed)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, zapbase.Errorf(zapbase.CodeNotFound, "sessão Meta não encontrada")
	}
	if err != nil {
		return nil, fmt.Errorf("load session %s: %w", sessionID, err)
	}
	if keyID != nil {
		if r.Creds, err = s.open(sessionID, *keyID, sealed); err != nil {
			return nil, err
		}
	}
	return &r, nil
}

// route is a webhook destination: a configured number and its app secret.
type route struct {
	PhoneNumberID string
	WABAID        string
	TenantID      string
	SessionID     string
	PhoneNumber   string
	AppSecret     string
	AccessToken   string
}

const routeSelect = `
SELECT n.phone_number_id, n.waba_id, n.tenant_id, n.session_id, s.phone_number, sec.key_id, sec.ciphertext
  FROM wa.meta_numbers n
  JOIN public.whatsapp_sessions s ON s.id = n.session_id
  JOIN wa.session_secrets sec ON sec.session_id = n.session_id`

func (s *store) scanRoutes(rows pgx.Rows) ([]route, error) {
	defer rows.Close()
	var out []route
	for rows.Next() {
		var r route
		var keyID string
		var sealed []byte
		if err := rows.Scan(&r.PhoneNumberID, &r.WABAID, &r.TenantID, &r.SessionID, &r.PhoneNumber, &keyID, &sealed); err != nil {
			return nil, fmt.Errorf("scan route: %w", err)
		}
		c, err := s.open(r.SessionID, keyID, sealed)
		if err != nil {
			return nil, err
		}
		r.AppSecret, r.AccessToken = c.AppSecret, c.AccessToken
		out = append(out, r)
	}
	return out, rows.Err()
}

func (s *store) routesByNumber(ctx context.Context, ids []string) ([]route, error) {
	rows, err := s.pool.Query(ctx, routeSelect+` WHERE n.phone_number_id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("load routes: %w", err)
	}
	return s.scanRoutes(rows)
}

func (s *store) routesBySession(ctx context.Context, sessionID string) ([]route, error) {
	rows, err := s.pool.Query(ctx, routeSelect+` WHERE n.session_id = $1`, sessionID)
	if err != nil {
		return nil, fmt.Errorf("load route of session: %w", err)
	}
	return s.scanRoutes(rows)
}

func (s *store) routesByWABA(ctx context.Context, ids []string) ([]route, error) {
	rows, err := s.pool.Query(ctx, routeSelect+` WHERE n.waba_id = ANY($1)`, ids)
	if err != nil {
		return nil, fmt.Errorf("load routes: %w", err)
	}
	return s.scanRoutes(rows)
}

// wabaSession is a session whose number belongs to a WABA.
type wabaSession struct {
	TenantID, SessionID, PhoneNumber, State string
}

// sessionsByWABA lists the sessions of every number of a WABA (account-level
// webhooks name the WABA only).
func (s *store) sessionsByWABA(ctx context.Context, wabaID string) ([]wabaSession, error) {
	rows, err := s.pool.Query(ctx, `
SELECT n.tenant_id::text, n.session_id::text, s.phone_number, s.state
  FROM wa.meta_numbers n JOIN public.whatsapp_sessions s ON s.id = n.session_id
 WHERE n.waba_id = $1 ORDER BY n.session_id`, wabaID)
	if err != nil {
		return nil, fmt.Errorf("load sessions of waba %s: %w", wabaID, err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowToStructByPos[wabaSession])
	if err != nil {
		return nil, fmt.Errorf("load sessions of waba %s: %w", wabaID, err)
	}
	return out, nil
}

// recordQuality merges a phone_number_quality_update into the session's
// (non-secret, member-readable) session_data under "metaQuality".
func (s *store) recordQuality(ctx context.Context, sessionID string, q map[string]any) error {
	b, err := json.Marshal(map[string]any{"metaQuality": q})
	if err != nil {
		return fmt.Errorf("encode quality: %w", err)
	}
	if _, err := s.pool.Exec(ctx, `UPDATE public.whatsapp_sessions SET session_data = session_data || $2::jsonb WHERE id = $1`,
		sessionID, b); err != nil {
		return fmt.Errorf("record quality of %s: %w", sessionID, err)
	}
	return nil
}

func (s *store) verifyTokenKnown(ctx context.Context, token string) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM wa.meta_numbers WHERE verify_token_hash = $1)`,
		hashVerifyToken(token)).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("check verify token: %w", err)
	}
	return ok, nil
}

func (s *store) forget(ctx context.Context, sessionID string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `DELETE FROM wa.session_secrets WHERE session_id = $1`, sessionID); err != nil {
			return fmt.Errorf("forget credentials: %w", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM wa.meta_numbers WHERE session_id = $1`, sessionID); err != nil {
			return fmt.Errorf("forget meta number: %w", err)
		}
		return nil
	})
}

// contactIdentity is what a webhook or a send tells about a customer.
type contactIdentity struct {
	WaID        string
	BSUID       string
	ParentBSUID string
	ProfileName string
	Username    string
	// InboundAt, when set, refreshes the customer-service window.
	InboundAt time.Time
}

// linkContact upserts a contact, linking phone (wa_id) and BSUID into one
// row; when both identities exist on separate rows they are merged.
func (s *store) linkContact(ctx context.Context, tenantID, sessionID string, c contactIdentity) error {
	if c.WaID == "" && c.BSUID == "" {
		return nil
	}
	if c.ParentBSUID != "" {
		defer func() {
			// Best effort: the parent id only widens window lookups.
			_, _ = s.pool.Exec(ctx, `
UPDATE wa.meta_contacts SET parent_bsuid = $5
 WHERE tenant_id = $1 AND session_id = $2 AND ((wa_id = $3 AND $3 <> '') OR (bsuid = $4 AND $4 <> ''))
   AND parent_bsuid IS DISTINCT FROM $5`, tenantID, sessionID, c.WaID, c.BSUID, c.ParentBSUID)
		}()
	}
	var inbound *time.Time
	if !c.InboundAt.IsZero() {
		inbound = &c.InboundAt
	}
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		rows, err := tx.Query(ctx, `
SELECT id FROM wa.meta_contacts
 WHERE tenant_id = $1 AND session_id = $2
   AND ((wa_id = $3 AND $3 <> '') OR (bsuid = $4 AND $4 <> ''))
 ORDER BY (wa_id = $3) DESC NULLS LAST, created_at
 FOR UPDATE`, tenantID, sessionID, c.WaID, c.BSUID)
		if err != nil {
			return fmt.Errorf("find contact: %w", err)
		}
		ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			return fmt.Errorf("find contact: %w", err)
		}
		if len(ids) == 0 {
			_, err := tx.Exec(ctx, `
INSERT INTO wa.meta_contacts (tenant_id, session_id, wa_id, bsuid, profile_name, username, last_inbound_at)
VALUES ($1, $2, nullif($3, ''), nullif($4, ''), nullif($5, ''), nullif($6, ''), $7)`,
				tenantID, sessionID, c.WaID, c.BSUID, c.ProfileName, c.Username, inbound)
			if err != nil {
				return fmt.Errorf("insert contact: %w", err)
			}
			return nil
		}
		keep := ids[0]
		var mergedInbound *time.Time
		if len(ids) > 1 {
			// Two rows (one by phone, one by BSUID) are the same person.
			err := tx.QueryRow(ctx, `
WITH d AS (DELETE FROM wa.meta_contacts WHERE id = ANY($1) RETURNING last_inbound_at)
SELECT max(last_inbound_at) FROM d`, ids[1:]).Scan(&mergedInbound)
			if err != nil && !errors.Is(err, pgx.ErrNoRows) {
				return fmt.Errorf("merge contacts: %w", err)
			}
		}
		_, err = tx.Exec(ctx, `
UPDATE wa.meta_contacts
   SET wa_id = coalesce(nullif($2, ''), wa_id),
       bsuid = coalesce(nullif($3, ''), bsuid),
       profile_name = coalesce(nullif($4, ''), profile_name),
       username = coalesce(nullif($5, ''), username),
       last_inbound_at = (SELECT max(t) FROM unnest(ARRAY[last_inbound_at, $6, $7]::timestamptz[]) AS t)
 WHERE id = $1`, keep, c.WaID, c.BSUID, c.ProfileName, c.Username, inbound, mergedInbound)
		if err != nil {
			return fmt.Errorf("update contact: %w", err)
		}
		return nil
	})
}

// changeNumber re-keys a contact after a system user_changed_number: the
// customer's old wa_id becomes newWaID (merging with a row already known
// by the new number). The BSUID is regenerated by Meta, so it is dropped.
func (s *store) changeNumber(ctx context.Context, tenantID, sessionID, oldWaID, newWaID string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var existing *time.Time
		err := tx.QueryRow(ctx, `
DELETE FROM wa.meta_contacts WHERE tenant_id = $1 AND session_id = $2 AND wa_id = $3
RETURNING last_inbound_at`, tenantID, sessionID, newWaID).Scan(&existing)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("merge changed number: %w", err)
		}
		tag, err := tx.Exec(ctx, `
UPDATE wa.meta_contacts
   SET wa_id = $4, bsuid = NULL,
       last_inbound_at = (SELECT max(t) FROM unnest(ARRAY[last_inbound_at, $5]::timestamptz[]) AS t)
 WHERE tenant_id = $1 AND session_id = $2 AND wa_id = $3`, tenantID, sessionID, oldWaID, newWaID, existing)
		if err != nil {
			return fmt.Errorf("re-key contact: %w", err)
		}
		if tag.RowsAffected() == 0 {
			_, err = tx.Exec(ctx, `
INSERT INTO wa.meta_contacts (tenant_id, session_id, wa_id, last_inbound_at) VALUES ($1, $2, $3, $4)`,
				tenantID, sessionID, newWaID, existing)
			if err != nil {
				return fmt.Errorf("insert changed contact: %w", err)
			}
		}
		return nil
	})
}

// lastInbound answers when the customer last wrote (zero: never or unknown).
// to is a phone number (any format; Brazil's ninth digit tolerated) or a BSUID.
func (s *store) lastInbound(ctx context.Context, tenantID, sessionID, to string) (time.Time, error) {
	var t *time.Time
	err := s.pool.QueryRow(ctx, `
SELECT max(last_inbound_at) FROM wa.meta_contacts
 WHERE tenant_id = $1 AND session_id = $2 AND (wa_id = ANY($3) OR bsuid = $4 OR parent_bsuid = $4)`,
		tenantID, sessionID, phoneVariants(to), to).Scan(&t)
	if err != nil {
		return time.Time{}, fmt.Errorf("read service window: %w", err)
	}
	if t == nil {
		return time.Time{}, nil
	}
	return *t, nil
}

// lastInboundMessageID finds the newest inbound message of a contact (the
// typing indicator rides on a mark-read of it).
func (s *store) lastInboundMessageID(ctx context.Context, tenantID, sessionID, from string) (string, error) {
	var id string
	err := s.pool.QueryRow(ctx, `
SELECT message_id FROM public.messages
 WHERE tenant_id = $1 AND session_id = $2 AND direction = 'inbound' AND provider = 'meta_api'
   AND message_id IS NOT NULL AND (from_number = ANY($3) OR metadata->>'fromAlt' = $4)
 ORDER BY created_at DESC LIMIT 1`, tenantID, sessionID, phoneVariants(from), from).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("find last inbound message: %w", err)
	}
	return id, nil
}

// markInboundError makes a failure attached to an inbound message visible
// on its row (131052 media download, 131051 unsupported…), through the
// event sink.
func (s *store) markInboundError(ctx context.Context, tenantID, wamid, code, reason string) error {
	return s.events.MarkInboundError(ctx, providers.MarkInboundErrorParams{TenantID: tenantID,
		Provider: zapbase.ProviderMeta, ProviderMessageID: wamid, Code: code, Reason: reason})
}

// bindMessageID stores the wamid on an outbound row that lacks it (a send
// whose answer was lost), correlated by biz_opaque_callback_data, through
// the event sink.
func (s *store) bindMessageID(ctx context.Context, tenantID, rowID, wamid string) error {
	return s.events.BindProviderID(ctx, providers.BindProviderIDParams{TenantID: tenantID, RowID: rowID, ProviderMessageID: wamid})
}

var nonDigits = regexp.MustCompile(`[^0-9]`)

// bsuidPattern matches business-scoped user ids ("BR.1349…", "BR.ENT.…").
var bsuidPattern = regexp.MustCompile(`^[A-Z]{2}\.[A-Za-z0-9.]{1,160}$`)

func isBSUID(s string) bool { return bsuidPattern.MatchString(s) }

// normalizePhone reduces a phone or WhatsApp JID to international digits.
func normalizePhone(s string) string {
	if i := strings.IndexByte(s, '@'); i >= 0 {
		s = s[:i]
	}
	if i := strings.IndexByte(s, ':'); i >= 0 {
		s = s[:i]
	}
	return nonDigits.ReplaceAllString(s, "")
}

// canonicalWaID answers the wa_id Meta uses for the phone number to when
// it is another form of it (Brazil's ninth digit), else "". BSUIDs and
// unknown contacts answer "".
func (s *store) canonicalWaID(ctx context.Context, tenantID, sessionID, to string) (string, error) {
	if isBSUID(to) {
		return "", nil
	}
	vars := phoneVariants(to)
	if len(vars) < 2 {
		return "", nil
	}
	var waID string
	err := s.pool.QueryRow(ctx, `
SELECT wa_id FROM wa.meta_contacts
 WHERE tenant_id = $1 AND session_id = $2 AND wa_id = ANY($3)
 ORDER BY last_inbound_at DESC NULLS LAST LIMIT 1`, tenantID, sessionID, vars).Scan(&waID)
	if errors.Is(err, pgx.ErrNoRows) || waID == vars[0] {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("find canonical wa_id: %w", err)
	}
	return waID, nil
}

// phoneVariants lists the forms a number may take in Meta's wa_id: Brazil's
// mobile ninth digit is dropped for old accounts ("5521987654321" →
// "552187654321"), so both are tried.
func phoneVariants(s string) []string {
	d := normalizePhone(s)
	if d == "" {
		return nil
	}
	out := []string{d}
	if strings.HasPrefix(d, "55") {
		switch len(d) {
		case 13:
			if d[4] == '9' {
				out = append(out, d[:4]+d[5:])
			}
		case 12:
			if d[4] >= '6' {
				out = append(out, d[:4]+"9"+d[4:])
			}
		}
	}
	return out
}

// changeUserID re-keys a contact after a system user_changed_user_id: the
// BSUID old (or, without it, the contact known by phone) becomes newBSUID,
// merging with a row already known by the new id, so the contact keeps one
// identity and one service-window history.
func (s *store) changeUserID(ctx context.Context, tenantID, sessionID, oldBSUID, waID, newBSUID, parent string) error {
	return pgx.BeginFunc(ctx, s.pool, func(tx pgx.Tx) error {
		var existing *time.Time
		var existingWaID *string
		err := tx.QueryRow(ctx, `
DELETE FROM wa.meta_contacts WHERE tenant_id = $1 AND session_id = $2 AND bsuid = $3
   AND NOT ((bsuid = $4 AND $4 <> '') OR (wa_id = $5 AND $5 <> ''))
RETURNING last_inbound_at, wa_id`, tenantID, sessionID, newBSUID, oldBSUID, waID).Scan(&existing, &existingWaID)
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return fmt.Errorf("merge changed user id: %w", err)
		}
		merged := ""
		if existingWaID != nil {
			merged = *existingWaID
		}
		tag, err := tx.Exec(ctx, `
UPDATE wa.meta_contacts
   SET bsuid = $6, parent_bsuid = coalesce(nullif($7, ''), parent_bsuid),
       wa_id = coalesce(wa_id, nullif($8, '')),
       last_inbound_at = (SELECT max(t) FROM unnest(ARRAY[last_inbound_at, $9]::timestamptz[]) AS t)
 WHERE id = (SELECT id FROM wa.meta_contacts
              WHERE tenant_id = $1 AND session_id = $2
                AND ((bsuid = $3 AND $3 <> '') OR (wa_id = ANY($4) AND $5 <> '') OR bsuid = $6)
              ORDER BY coalesce(bsuid = $3, false) DESC, created_at LIMIT 1)`,
			tenantID, sessionID, oldBSUID, phoneVariants(waID), waID, newBSUID, parent, merged, existing)
		if err != nil {
			return fmt.Errorf("re-key contact by user id: %w", err)
		}
		if tag.RowsAffected() == 0 {
			_, err = tx.Exec(ctx, `
INSERT INTO wa.meta_contacts (tenant_id, session_id, wa_id, bsuid, parent_bsuid, last_inbound_at)
VALUES ($1, $2, nullif($3, ''), $4, nullif($5, ''), $6)`, tenantID, sessionID, firstNonEmpty(waID, merged), newBSUID, parent, existing)
			if err != nil {
				return fmt.Errorf("insert changed contact: %w", err)
			}
		}
		return nil
	})
}

// recordUnrouted counts deliveries that named no known number or WABA, one
// row per (entry id, field, event); rows unseen for 30 days are pruned.
func (s *store) recordUnrouted(ctx context.Context, entries, fields, events []string, size int) error {
	_, err := s.pool.Exec(ctx, `
WITH pruned AS (
  DELETE FROM wa.meta_unrouted_webhooks WHERE last_seen_at < now() - interval '30 days'
)
INSERT INTO wa.meta_unrouted_webhooks AS u (entry_id, field, event, bytes)
SELECT e, f, v, $4 FROM unnest($1::text[], $2::text[], $3::text[]) AS x(e, f, v)
ON CONFLICT (entry_id, field, event) DO UPDATE
   SET deliveries = u.deliveries + 1, bytes = u.bytes + EXCLUDED.bytes, last_seen_at = now()`,
		entries, fields, events, int64(size))
	if err != nil {
		return fmt.Errorf("record unrouted webhook: %w", err)
	}
	return nil
}

// inboundMediaRow is what a re-download needs about an inbound row.
type inboundMediaRow struct {
	SessionID string
	MediaID   string
	MimeType  string
	MediaURL  string
	At        time.Time
}

func (s *store) inboundMedia(ctx context.Context, tenantID, wamid string) (*inboundMediaRow, error) {
	var r inboundMediaRow
	err := s.pool.QueryRow(ctx, `
SELECT session_id::text, coalesce(content->>'mediaId', ''), coalesce(content->>'mimeType', ''),
       coalesce(content->>'mediaUrl', ''), created_at
  FROM public.messages
 WHERE tenant_id = $1 AND provider = 'meta_api' AND direction = 'inbound' AND message_id = $2`,
		tenantID, wamid).Scan(&r.SessionID, &r.MediaID, &r.MimeType, &r.MediaURL, &r.At)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, zapbase.Errorf(zapbase.CodeNotFound, "mensagem recebida não encontrada")
	}
	if err != nil {
		return nil, fmt.Errorf("load inbound media of %s: %w", wamid, err)
	}
	return &r, nil
}

// Inbound media error codes stored on a row while its download is retried
// or after it failed for good.
const (
	mediaPendingCode = "media_download_pending"
	mediaFailedCode  = "media_download_failed"
)

// setInboundMedia stores a downloaded media on an inbound row and clears a
// media download error.
func (s *store) setInboundMedia(ctx context.Context, tenantID, wamid string, c providers.Content) error {
	patch, _ := json.Marshal(map[string]any{"mediaUrl": c.MediaURL, "mediaPath": c.MediaPath, "sizeBytes": c.SizeBytes, "mimeType": c.MimeType})
	_, err := s.pool.Exec(ctx, `
UPDATE public.messages
   SET content = content || $3::jsonb,
       error_code = CASE WHEN error_code IN ($4, $5) THEN NULL ELSE error_code END,
       error_reason = CASE WHEN error_code IN ($4, $5) THEN NULL ELSE error_reason END
 WHERE tenant_id = $1 AND provider = 'meta_api' AND direction = 'inbound' AND message_id = $2`,
		tenantID, wamid, patch, mediaPendingCode, mediaFailedCode)
	if err != nil {
		return fmt.Errorf("store inbound media of %s: %w", wamid, err)
	}
	return nil
}

// inboundMediaStored reports whether an inbound row already has its media
// (a reprocessed payload must not download it again).
func (s *store) inboundMediaStored(ctx context.Context, tenantID, wamid string) (bool, error) {
	var ok bool
	err := s.pool.QueryRow(ctx, `
SELECT EXISTS (SELECT 1 FROM public.messages
 WHERE tenant_id = $1 AND provider = 'meta_api' AND direction = 'inbound' AND message_id = $2
   AND coalesce(content->>'mediaUrl', '') <> '')`, tenantID, wamid).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("check inbound media of %s: %w", wamid, err)
	}
	return ok, nil
}

// templateInfo is what zapbase knows about a template from webhooks.
type templateInfo struct {
	Status, Reason, Quality, Category string
}

// templateUpdate is one webhook's news about a template (empty fields are
// left as they were).
type templateUpdate struct {
	WABAID, Name, Language, ID   string
	Status, Reason, Quality, Cat string
}

// upsertTemplate records a template update and mirrors the merged state
// into session_data.metaTemplates["name:language"] of every session of the
// WABA (member-readable, live through Realtime), so a paused or disabled
// template is visible before a send fails.
func (s *store) upsertTemplate(ctx context.Context, u templateUpdate) error {
	_, err := s.pool.Exec(ctx, `
WITH up AS (
INSERT INTO wa.meta_templates AS t (waba_id, name, language, template_id, status, status_reason, status_at, quality, category)
VALUES ($1, $2, $3, nullif($4, ''), nullif($5, ''), nullif($6, ''), CASE WHEN $5 <> '' THEN now() END, nullif($7, ''), nullif($8, ''))
ON CONFLICT (waba_id, name, language) DO UPDATE
   SET template_id = coalesce(EXCLUDED.template_id, t.template_id),
       status = coalesce(EXCLUDED.status, t.status),
       status_reason = CASE WHEN EXCLUDED.status IS NOT NULL THEN EXCLUDED.status_reason ELSE t.status_reason END,
       status_at = coalesce(EXCLUDED.status_at, t.status_at),
       quality = coalesce(EXCLUDED.quality, t.quality),
       category = coalesce(EXCLUDED.category, t.category),
       updated_at = now()
RETURNING t.waba_id, t.name || ':' || t.language AS key,
          jsonb_strip_nulls(jsonb_build_object('name', t.name, 'language', t.language, 'status', t.status,
            'reason', t.status_reason, 'quality', t.quality, 'category', t.category,
            'updatedAt', to_char(t.updated_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"'))) AS state
)
UPDATE public.whatsapp_sessions s
   SET session_data = s.session_data || jsonb_build_object('metaTemplates',
         coalesce(s.session_data->'metaTemplates', '{}'::jsonb) || jsonb_build_object(up.key, up.state))
  FROM up, wa.meta_numbers n
 WHERE n.waba_id = up.waba_id AND s.id = n.session_id`,
		u.WABAID, u.Name, u.Language, u.ID, strings.ToUpper(u.Status), u.Reason, strings.ToUpper(u.Quality), strings.ToUpper(u.Cat))
	if err != nil {
		return fmt.Errorf("record template %s/%s: %w", u.Name, u.Language, err)
	}
	return nil
}

// maxTemplatePause is the longest pause Meta applies to a low-quality
// template (first 3 h, second 6 h; a third disables it). A PAUSED state
// older than that no longer stops sends, even if the webhook that lifted
// it was lost: Meta stays the judge.
const maxTemplatePause = 6 * time.Hour

// templateState reads what is known about a template (nil: nothing).
func (s *store) templateState(ctx context.Context, wabaID, name, language string) (*templateInfo, error) {
	var t templateInfo
	err := s.pool.QueryRow(ctx, `
SELECT CASE WHEN status = 'PAUSED' AND status_at < now() - $4::interval THEN 'PAUSE_ENDED' ELSE coalesce(status, '') END,
       coalesce(status_reason, ''), coalesce(quality, ''), coalesce(category, '')
  FROM wa.meta_templates WHERE waba_id = $1 AND name = $2 AND language = $3`, wabaID, name, language, maxTemplatePause.String()).
		Scan(&t.Status, &t.Reason, &t.Quality, &t.Category)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read template %s/%s: %w", name, language, err)
	}
	return &t, nil
}

// setOptOut records a customer's marketing preference (user_preferences,
// or a send failed with 131050); an older change never overwrites a newer.
func (s *store) setOptOut(ctx context.Context, tenantID, sessionID, contact, category string, optedOut bool, detail string, at time.Time) error {
	if contact == "" {
		return nil
	}
	_, err := s.pool.Exec(ctx, `
INSERT INTO wa.meta_opt_outs AS o (tenant_id, session_id, contact, category, opted_out, detail, changed_at)
VALUES ($1, $2, $3, $4, $5, nullif($6, ''), $7)
ON CONFLICT (tenant_id, session_id, contact, category) DO UPDATE
   SET opted_out = EXCLUDED.opted_out, detail = EXCLUDED.detail, changed_at = EXCLUDED.changed_at, updated_at = now()
 WHERE o.changed_at <= EXCLUDED.changed_at`, tenantID, sessionID, contact, category, optedOut, detail, at)
	if err != nil {
		return fmt.Errorf("record marketing preference: %w", err)
	}
	return nil
}

// marketingOptedOut reports whether the recipient (a phone in any form or
// a BSUID, and every identity linked to it) stopped marketing messages.
func (s *store) marketingOptedOut(ctx context.Context, tenantID, sessionID, to string) (bool, error) {
	var out bool
	err := s.pool.QueryRow(ctx, `
WITH ids AS (
  SELECT unnest($3::text[]) AS id UNION SELECT $4
  UNION SELECT c.wa_id FROM wa.meta_contacts c
         WHERE c.tenant_id = $1 AND c.session_id = $2 AND (c.wa_id = ANY($3) OR c.bsuid = $4 OR c.parent_bsuid = $4) AND c.wa_id IS NOT NULL
  UNION SELECT c.bsuid FROM wa.meta_contacts c
         WHERE c.tenant_id = $1 AND c.session_id = $2 AND (c.wa_id = ANY($3) OR c.bsuid = $4 OR c.parent_bsuid = $4) AND c.bsuid IS NOT NULL
)
SELECT EXISTS (SELECT 1 FROM wa.meta_opt_outs o
  WHERE o.tenant_id = $1 AND o.session_id = $2 AND o.category = $5 AND o.opted_out AND o.contact IN (SELECT id FROM ids))`,
		tenantID, sessionID, phoneVariants(to), to, optOutMarketing).Scan(&out)
	if err != nil {
		return false, fmt.Errorf("read marketing preference: %w", err)
	}
	return out, nil
}

// recordPricing stores a status webhook's pricing/conversation on the
// outbound message and returns what the row sent (a template's name and
// language, to learn its category).
func (s *store) recordPricing(ctx context.Context, tenantID, wamid string, pricing []byte) (msgType, name, language string, err error) {
	err = s.pool.QueryRow(ctx, `
UPDATE public.messages SET pricing = coalesce(pricing, '{}'::jsonb) || $3::jsonb
 WHERE tenant_id = $1 AND provider = 'meta_api' AND direction = 'outbound' AND message_id = $2
RETURNING message_type, coalesce(content->'template'->>'name', ''), coalesce(content->'template'->>'language', '')`,
		tenantID, wamid, pricing).Scan(&msgType, &name, &language)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", "", "", nil
	}
	if err != nil {
		return "", "", "", fmt.Errorf("record pricing of %s: %w", wamid, err)
	}
	return msgType, name, language, nil
}
