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

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/secret"
	zstore "github.com/zapbase/zapbase/store"
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

// Store is what the Meta channel keeps in the database besides what it
// reports through the event sink: its own tables (numbers and webhook
// routes, sealed credentials, contacts and service windows, templates,
// marketing preferences, unrouted deliveries, the webhook inbox) and the
// reads it needs of its sessions and messages. store.MetaChannel implements
// it; the provider holds no pool.
type Store interface {
	// SaveSession stores a session, its sealed credentials and its number's
	// route in one transaction (store.ErrSessionNumberTaken,
	// store.ErrMetaNumberTaken).
	SaveSession(ctx context.Context, p zstore.SaveMetaSessionParams) error
	// ForgetSession drops a session's credentials and route.
	ForgetSession(ctx context.Context, sessionID string) error
	Session(ctx context.Context, sessionID string) (zstore.MetaSession, bool, error)
	SessionStatus(ctx context.Context, sessionID string) (providers.SessionState, error)
	PendingVerifications(ctx context.Context) ([]string, error)

	RoutesByNumber(ctx context.Context, ids []string) ([]zstore.MetaRoute, error)
	RoutesBySession(ctx context.Context, sessionID string) ([]zstore.MetaRoute, error)
	RoutesByWABA(ctx context.Context, ids []string) ([]zstore.MetaRoute, error)
	SessionsByWABA(ctx context.Context, wabaID string) ([]zstore.MetaWABASession, error)
	VerifyTokenKnown(ctx context.Context, hash []byte) (bool, error)

	LinkContact(ctx context.Context, c zstore.MetaContactParams) error
	SetParentBSUID(ctx context.Context, tenantID, sessionID, waID, bsuid, parent string) error
	ChangeNumber(ctx context.Context, tenantID, sessionID, oldWaID, newWaID string) error
	ChangeUserID(ctx context.Context, p zstore.ChangeUserIDParams) error
	LastInbound(ctx context.Context, tenantID, sessionID string, variants []string, to string) (*time.Time, error)
	KnownWaID(ctx context.Context, tenantID, sessionID string, variants []string) (string, error)

	UpsertTemplate(ctx context.Context, u zstore.MetaTemplateUpdate) error
	TemplateState(ctx context.Context, wabaID, name, language string, maxPause time.Duration) (zstore.MetaTemplateState, bool, error)
	SetOptOut(ctx context.Context, p zstore.SetOptOutParams) error
	OptedOut(ctx context.Context, p zstore.OptedOutParams) (bool, error)
	RecordUnrouted(ctx context.Context, entries, fields, events []string, size int) error

	InboundMedia(ctx context.Context, tenantID, wamid string) (zstore.MetaInboundMedia, bool, error)
	InboundMediaStored(ctx context.Context, tenantID, wamid string) (bool, error)
	LastInboundMessageID(ctx context.Context, p zstore.MetaLastInboundParams) (string, error)

	InsertInbox(ctx context.Context, source string, rows []zstore.InboxRow) error
	ClaimInbox(ctx context.Context, source string, limit int, lease time.Duration) ([]zstore.InboxItem, error)
	MarkInboxProcessed(ctx context.Context, id int64) error
	RetryInbox(ctx context.Context, id int64, lastError string, retryIn time.Duration) error
	ExtendInboxLease(ctx context.Context, id int64, d time.Duration) error
}

var _ Store = zstore.MetaChannel{}

// store is the Meta channel's persistence: the Store, the sealing of
// credentials, and the event sink for corrections to message rows.
type store struct {
	db  Store
	box *secret.Box
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
	err = s.db.SaveSession(ctx, zstore.SaveMetaSessionParams{
		TenantID: p.TenantID, SessionID: p.SessionID, PhoneNumber: p.PhoneNumber, SessionData: data,
		KeyID: keyID, Sealed: sealed,
		PhoneNumberID: c.PhoneNumberID, WABAID: c.WABAID, VerifyTokenHash: hashVerifyToken(c.VerifyToken),
	})
	switch {
	case errors.Is(err, zstore.ErrSessionNumberTaken):
		return zapbase.Errorf(zapbase.CodeConflict, "já existe uma sessão para este número neste cliente")
	case errors.Is(err, zstore.ErrMetaNumberTaken):
		return zapbase.Errorf(zapbase.CodeConflict, "este phoneNumberId já está configurado em outra sessão")
	}
	return err
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
	row, ok, err := s.db.Session(ctx, sessionID)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, zapbase.Errorf(zapbase.CodeNotFound, "sessão Meta não encontrada")
	}
	r := sessionRow{TenantID: row.TenantID, SessionID: row.SessionID, PhoneNumber: row.PhoneNumber, State: row.State, Until: row.Until}
	if row.KeyID != "" {
		if r.Creds, err = s.open(sessionID, row.KeyID, row.Sealed); err != nil {
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

// openRoutes opens the credentials of loaded routes.
func (s *store) openRoutes(rows []zstore.MetaRoute, err error) ([]route, error) {
	if err != nil {
		return nil, err
	}
	var out []route
	for _, row := range rows {
		c, err := s.open(row.SessionID, row.KeyID, row.Sealed)
		if err != nil {
			return nil, err
		}
		out = append(out, route{PhoneNumberID: row.PhoneNumberID, WABAID: row.WABAID, TenantID: row.TenantID,
			SessionID: row.SessionID, PhoneNumber: row.PhoneNumber, AppSecret: c.AppSecret, AccessToken: c.AccessToken})
	}
	return out, nil
}

func (s *store) routesByNumber(ctx context.Context, ids []string) ([]route, error) {
	return s.openRoutes(s.db.RoutesByNumber(ctx, ids))
}

func (s *store) routesBySession(ctx context.Context, sessionID string) ([]route, error) {
	return s.openRoutes(s.db.RoutesBySession(ctx, sessionID))
}

func (s *store) routesByWABA(ctx context.Context, ids []string) ([]route, error) {
	return s.openRoutes(s.db.RoutesByWABA(ctx, ids))
}

// wabaSession is a session whose number belongs to a WABA.
type wabaSession = zstore.MetaWABASession

// sessionsByWABA lists the sessions of every number of a WABA (account-level
// webhooks name the WABA only).
func (s *store) sessionsByWABA(ctx context.Context, wabaID string) ([]wabaSession, error) {
	return s.db.SessionsByWABA(ctx, wabaID)
}

// recordQuality merges a phone_number_quality_update into the session's
// (non-secret, member-readable) session_data under "metaQuality", through
// the event sink.
func (s *store) recordQuality(ctx context.Context, sessionID string, q map[string]any) error {
	b, err := json.Marshal(map[string]any{"metaQuality": q})
	if err != nil {
		return fmt.Errorf("encode quality: %w", err)
	}
	if err := s.events.MergeSessionData(ctx, sessionID, b); err != nil {
		return fmt.Errorf("record quality of %s: %w", sessionID, err)
	}
	return nil
}

func (s *store) verifyTokenKnown(ctx context.Context, token string) (bool, error) {
	return s.db.VerifyTokenKnown(ctx, hashVerifyToken(token))
}

func (s *store) forget(ctx context.Context, sessionID string) error {
	return s.db.ForgetSession(ctx, sessionID)
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
			_ = s.db.SetParentBSUID(ctx, tenantID, sessionID, c.WaID, c.BSUID, c.ParentBSUID)
		}()
	}
	var inbound *time.Time
	if !c.InboundAt.IsZero() {
		inbound = &c.InboundAt
	}
	return s.db.LinkContact(ctx, zstore.MetaContactParams{TenantID: tenantID, SessionID: sessionID, WaID: c.WaID,
		BSUID: c.BSUID, ProfileName: c.ProfileName, Username: c.Username, InboundAt: inbound})
}

// changeNumber re-keys a contact after a system user_changed_number: the
// customer's old wa_id becomes newWaID (merging with a row already known
// by the new number). The BSUID is regenerated by Meta, so it is dropped.
func (s *store) changeNumber(ctx context.Context, tenantID, sessionID, oldWaID, newWaID string) error {
	return s.db.ChangeNumber(ctx, tenantID, sessionID, oldWaID, newWaID)
}

// lastInbound answers when the customer last wrote (zero: never or unknown).
// to is a phone number (any format; Brazil's ninth digit tolerated) or a BSUID.
func (s *store) lastInbound(ctx context.Context, tenantID, sessionID, to string) (time.Time, error) {
	t, err := s.db.LastInbound(ctx, tenantID, sessionID, phoneVariants(to), to)
	if err != nil {
		return time.Time{}, err
	}
	if t == nil {
		return time.Time{}, nil
	}
	return *t, nil
}

// lastInboundMessageID finds the newest inbound message of a contact (the
// typing indicator rides on a mark-read of it).
func (s *store) lastInboundMessageID(ctx context.Context, tenantID, sessionID, from string) (string, error) {
	return s.db.LastInboundMessageID(ctx, zstore.MetaLastInboundParams{TenantID: tenantID, SessionID: sessionID,
		FromVariants: phoneVariants(from), From: from})
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
	waID, err := s.db.KnownWaID(ctx, tenantID, sessionID, vars)
	if err != nil {
		return "", err
	}
	if waID == vars[0] {
		return "", nil
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
	return s.db.ChangeUserID(ctx, zstore.ChangeUserIDParams{TenantID: tenantID, SessionID: sessionID, Old: oldBSUID,
		WaID: waID, WaIDVariants: phoneVariants(waID), New: newBSUID, Parent: parent})
}

// recordUnrouted counts deliveries that named no known number or WABA, one
// row per (entry id, field, event); rows unseen for 30 days are pruned.
func (s *store) recordUnrouted(ctx context.Context, entries, fields, events []string, size int) error {
	return s.db.RecordUnrouted(ctx, entries, fields, events, size)
}

// inboundMediaRow is what a re-download needs about an inbound row.
type inboundMediaRow = zstore.MetaInboundMedia

func (s *store) inboundMedia(ctx context.Context, tenantID, wamid string) (*inboundMediaRow, error) {
	r, ok, err := s.db.InboundMedia(ctx, tenantID, wamid)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, zapbase.Errorf(zapbase.CodeNotFound, "mensagem recebida não encontrada")
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
	return s.events.SetInboundMedia(ctx, providers.SetInboundMediaParams{TenantID: tenantID, ProviderMessageID: wamid,
		Media: c, ClearErrorCodes: [2]string{mediaPendingCode, mediaFailedCode}})
}

// inboundMediaStored reports whether an inbound row already has its media
// (a reprocessed payload must not download it again).
func (s *store) inboundMediaStored(ctx context.Context, tenantID, wamid string) (bool, error) {
	return s.db.InboundMediaStored(ctx, tenantID, wamid)
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
	return s.db.UpsertTemplate(ctx, zstore.MetaTemplateUpdate{WABAID: u.WABAID, Name: u.Name, Language: u.Language, ID: u.ID,
		Status: strings.ToUpper(u.Status), Reason: u.Reason, Quality: strings.ToUpper(u.Quality), Category: strings.ToUpper(u.Cat)})
}

// maxTemplatePause is the longest pause Meta applies to a low-quality
// template (first 3 h, second 6 h; a third disables it). A PAUSED state
// older than that no longer stops sends, even if the webhook that lifted
// it was lost: Meta stays the judge.
const maxTemplatePause = 6 * time.Hour

// templateState reads what is known about a template (nil: nothing).
func (s *store) templateState(ctx context.Context, wabaID, name, language string) (*templateInfo, error) {
	t, ok, err := s.db.TemplateState(ctx, wabaID, name, language, maxTemplatePause)
	if err != nil || !ok {
		return nil, err
	}
	return &templateInfo{Status: t.Status, Reason: t.Reason, Quality: t.Quality, Category: t.Category}, nil
}

// setOptOut records a customer's marketing preference (user_preferences,
// or a send failed with 131050); an older change never overwrites a newer.
func (s *store) setOptOut(ctx context.Context, tenantID, sessionID, contact, category string, optedOut bool, detail string, at time.Time) error {
	if contact == "" {
		return nil
	}
	return s.db.SetOptOut(ctx, zstore.SetOptOutParams{TenantID: tenantID, SessionID: sessionID, Contact: contact,
		Category: category, OptedOut: optedOut, Detail: detail, At: at})
}

// marketingOptedOut reports whether the recipient (a phone in any form or
// a BSUID, and every identity linked to it) stopped marketing messages.
func (s *store) marketingOptedOut(ctx context.Context, tenantID, sessionID, to string) (bool, error) {
	return s.db.OptedOut(ctx, zstore.OptedOutParams{TenantID: tenantID, SessionID: sessionID, Variants: phoneVariants(to),
		To: to, Category: optOutMarketing})
}

// recordPricing stores a status webhook's pricing/conversation on the
// outbound message and returns what the row sent (a template's name and
// language, to learn its category).
func (s *store) recordPricing(ctx context.Context, tenantID, wamid string, pricing []byte) (msgType, name, language string, err error) {
	r, err := s.events.RecordPricing(ctx, providers.RecordPricingParams{TenantID: tenantID, ProviderMessageID: wamid, Pricing: pricing})
	if err != nil {
		return "", "", "", err
	}
	return string(r.MessageType), r.TemplateName, r.TemplateLanguage, nil
}
