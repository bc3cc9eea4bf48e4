package meta

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/zapbase/zapbase"
)

// MaxWebhookBytes is the default bound of a webhook body: Meta sends
// batches of up to 3 MB (1,000 updates). Params.WebhookMaxBytes overrides
// it; the HTTP server must mount the handler with the same limit
// (Provider.WebhookMaxBytes).
const MaxWebhookBytes = 4 << 20

// MinWebhookBytes is the smallest accepted Params.WebhookMaxBytes: below
// Meta's 3 MB a full batch would be refused and retried for 7 days.
const MinWebhookBytes = 3 << 20

// InboxSource is wa.webhook_inbox.source for Meta webhooks.
const InboxSource = "meta"

// Webhook returns the handler the API mounts at GET and POST
// /api/v1/webhooks/meta:
//
//   - GET answers Meta's verification handshake: hub.mode=subscribe and a
//     hub.verify_token equal to some session's verify token → 200 with the
//     hub.challenge as text/plain; anything else → 403.
//   - POST checks X-Hub-Signature-256 (HMAC-SHA256 of the exact raw bytes
//     with the app secret of every number the payload routes to, compared in
//     constant time), stores the raw payload in wa.webhook_inbox (idempotent
//     on its sha256) and only then answers 200. Processing is asynchronous
//     (Start). Forged, missing or wrong-secret signatures → 401, nothing
//     stored. A payload that names no number or WABA we know cannot be
//     verified: it is acknowledged (200, so Meta does not retry it for 7
//     days), counted in wa.meta_unrouted_webhooks and never processed.
func (p *Provider) Webhook() http.Handler { return webhookHandler{p} }

type webhookHandler struct{ p *Provider }

func (h webhookHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.Method {
	case http.MethodGet:
		h.verify(w, r)
	case http.MethodPost:
		h.receive(w, r)
	default:
		w.Header().Set("Allow", "GET, POST")
		writeProblem(w, http.StatusMethodNotAllowed, zapbase.CodeMethodNotAllowed, "método não permitido")
	}
}

func (h webhookHandler) verify(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	token := q.Get("hub.verify_token")
	if q.Get("hub.mode") != "subscribe" || token == "" {
		writeProblem(w, http.StatusForbidden, zapbase.CodeForbidden, "verificação do webhook recusada")
		return
	}
	ok, err := h.p.store.verifyTokenKnown(r.Context(), token)
	if err != nil {
		h.p.log.Error("meta webhook verify", "error", err)
		writeProblem(w, http.StatusServiceUnavailable, zapbase.CodeUnavailable, "serviço indisponível, tente novamente")
		return
	}
	if !ok {
		h.p.log.Warn("meta webhook verification with unknown verify token")
		writeProblem(w, http.StatusForbidden, zapbase.CodeForbidden, "token de verificação inválido")
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, q.Get("hub.challenge"))
}

// routingEnvelope is the part of a payload needed to find its numbers.
type routingEnvelope struct {
	Object string `json:"object"`
	Entry  []struct {
		ID      string `json:"id"`
		Changes []struct {
			Field string `json:"field"`
			Value struct {
				Metadata struct {
					PhoneNumberID string `json:"phone_number_id"`
				} `json:"metadata"`
				// account_update PARTNER_*, AD_ACCOUNT_LINKED,
				// MM_LITE_TERMS_SIGNED: entry.id is the business
				// portfolio, the WABA is here.
				WABAInfo *struct {
					WABAID string `json:"waba_id"`
				} `json:"waba_info"`
				Event string `json:"event"`
			} `json:"value"`
		} `json:"changes"`
	} `json:"entry"`
}

func (h webhookHandler) receive(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, h.p.webhookMax))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			writeProblem(w, http.StatusRequestEntityTooLarge, zapbase.CodePayloadTooLarge, "payload maior que o permitido")
			return
		}
		writeProblem(w, http.StatusBadRequest, zapbase.CodeInvalidInput, "não foi possível ler o corpo da requisição")
		return
	}
	sig, ok := parseSignature(r.Header.Get("X-Hub-Signature-256"))
	if !ok {
		writeProblem(w, http.StatusUnauthorized, zapbase.CodeInvalidSignature, "assinatura X-Hub-Signature-256 ausente ou malformada")
		return
	}
	var env routingEnvelope
	if err := json.Unmarshal(body, &env); err != nil {
		writeProblem(w, http.StatusBadRequest, zapbase.CodeInvalidInput, "JSON inválido")
		return
	}
	var numbers, wabas []string
	for _, e := range env.Entry {
		for _, c := range e.Changes {
			switch {
			case c.Value.Metadata.PhoneNumberID != "":
				numbers = append(numbers, c.Value.Metadata.PhoneNumberID)
			case c.Value.WABAInfo != nil && c.Value.WABAInfo.WABAID != "":
				wabas = append(wabas, c.Value.WABAInfo.WABAID)
			case e.ID != "":
				wabas = append(wabas, e.ID)
			}
		}
	}
	routes, err := h.p.routes.lookup(r.Context(), numbers, wabas)
	if err != nil {
		h.p.log.Error("meta webhook routing", "error", err)
		writeProblem(w, http.StatusServiceUnavailable, zapbase.CodeUnavailable, "serviço indisponível, tente novamente")
		return
	}
	// A payload naming none of our numbers or WABAs cannot be verified
	// (we hold no secret for it). Answering non-200 would make Meta retry
	// it for 7 days: it is acknowledged and counted, never processed.
	if len(routes) == 0 {
		h.unrouted(w, r, env, len(body))
		return
	}
	// Every number the payload names that we know must be signed by its
	// app's secret (one POST comes from one app). Unknown numbers are
	// ignored later.
	if !signedByAll(body, sig, routes) {
		h.p.log.Warn("meta webhook rejected: signature does not match", "numbers", len(numbers), "known", len(routes))
		writeProblem(w, http.StatusUnauthorized, zapbase.CodeInvalidSignature, "assinatura do webhook inválida")
		return
	}
	var tenant *string
	for i := range routes {
		if tenant == nil {
			tenant = &routes[i].TenantID
		} else if *tenant != routes[i].TenantID {
			tenant = nil // spans tenants
			break
		}
	}
	sum := sha256.Sum256(body)
	err = h.p.inbox.insert(r.Context(), tenant, hex.EncodeToString(sum[:]), body)
	if err != nil {
		// Not durable: Meta must retry.
		h.p.log.Error("meta webhook inbox write", "error", err)
		writeProblem(w, http.StatusServiceUnavailable, zapbase.CodeUnavailable, "serviço indisponível, tente novamente")
		return
	}
	select {
	case h.p.wake <- struct{}{}:
	default:
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "EVENT_RECEIVED")
}

// unrouted acknowledges a delivery that names nothing we know: one row per
// (entry id, field, event) in wa.meta_unrouted_webhooks counts deliveries
// (the body is not kept: it is unverified).
func (h webhookHandler) unrouted(w http.ResponseWriter, r *http.Request, env routingEnvelope, size int) {
	type key struct{ entry, field, event string }
	seen := map[key]bool{}
	var entries, fields, events []string
	for _, e := range env.Entry {
		for _, c := range e.Changes {
			id := e.ID
			if c.Value.WABAInfo != nil && c.Value.WABAInfo.WABAID != "" {
				id = c.Value.WABAInfo.WABAID
			}
			if c.Value.Metadata.PhoneNumberID != "" {
				id = c.Value.Metadata.PhoneNumberID
			}
			k := key{truncate(id, 64), truncate(c.Field, 64), truncate(c.Value.Event, 64)}
			if seen[k] || len(seen) >= 32 {
				continue
			}
			seen[k] = true
			entries, fields, events = append(entries, k.entry), append(fields, k.field), append(events, k.event)
		}
	}
	if len(entries) == 0 {
		entries, fields, events = []string{""}, []string{""}, []string{""}
	}
	if err := h.p.store.recordUnrouted(r.Context(), entries, fields, events, size); err != nil {
		h.p.log.Error("meta webhook unrouted record", "error", err)
		writeProblem(w, http.StatusServiceUnavailable, "service_unavailable", "serviço indisponível, tente novamente")
		return
	}
	h.p.unroutedCount.Add(1)
	if h.p.params.OnUnroutedFunc != nil {
		h.p.params.OnUnroutedFunc()
	}
	h.p.log.Warn("meta webhook names no known number or WABA: acknowledged, not processed",
		"entries", strings.Join(entries, ","), "fields", strings.Join(fields, ","))
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = io.WriteString(w, "EVENT_RECEIVED")
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// parseSignature decodes "sha256=<hex>".
func parseSignature(h string) ([]byte, bool) {
	hexSig, ok := strings.CutPrefix(strings.TrimSpace(h), "sha256=")
	if !ok {
		return nil, false
	}
	sig, err := hex.DecodeString(hexSig)
	if err != nil || len(sig) != sha256.Size {
		return nil, false
	}
	return sig, true
}

// Sign returns the X-Hub-Signature-256 value of body for appSecret (what
// Meta sends; used by tests, fakes and the benchmark).
func Sign(appSecret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(appSecret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func signedByAll(body, sig []byte, routes []route) bool {
	checked := map[string]bool{}
	for _, r := range routes {
		ok, seen := checked[r.AppSecret]
		if !seen {
			m := hmac.New(sha256.New, []byte(r.AppSecret))
			m.Write(body)
			ok = hmac.Equal(m.Sum(nil), sig)
			checked[r.AppSecret] = ok
		}
		if !ok {
			return false
		}
	}
	return true
}

func writeProblem(w http.ResponseWriter, status int, code zapbase.Code, message string) {
	w.Header().Set("Content-Type", "application/problem+json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{
		"type": "about:blank", "title": http.StatusText(status), "status": status,
		"code": code, "message": message,
	})
}

// routeCache caches webhook routes (number or WABA → sessions with their
// secrets) for a short TTL: signature checks must not hit the database and
// decrypt secrets on every POST.
type routeCache struct {
	ttl   time.Duration
	store *store
	mu    sync.Mutex
	m     map[string]routeEntry
}

type routeEntry struct {
	routes  []route
	expires time.Time
}

func newRouteCache(ttl time.Duration, s *store) *routeCache {
	return &routeCache{ttl: ttl, store: s, m: map[string]routeEntry{}}
}

func (c *routeCache) clear() {
	c.mu.Lock()
	c.m = map[string]routeEntry{}
	c.mu.Unlock()
}

// lookup returns the distinct known routes of the numbers and WABAs.
func (c *routeCache) lookup(ctx context.Context, numbers, wabas []string) ([]route, error) {
	now := time.Now()
	var out []route
	var missN, missW []string
	c.mu.Lock()
	for _, n := range numbers {
		if e, ok := c.m["n:"+n]; ok && now.Before(e.expires) {
			out = append(out, e.routes...)
		} else {
			missN = append(missN, n)
		}
	}
	for _, wb := range wabas {
		if e, ok := c.m["w:"+wb]; ok && now.Before(e.expires) {
			out = append(out, e.routes...)
		} else {
			missW = append(missW, wb)
		}
	}
	c.mu.Unlock()
	if len(missN) > 0 {
		rs, err := c.store.routesByNumber(ctx, missN)
		if err != nil {
			return nil, err
		}
		c.mu.Lock()
		for _, r := range rs {
			c.m["n:"+r.PhoneNumberID] = routeEntry{routes: []route{r}, expires: now.Add(c.ttl)}
		}
		c.mu.Unlock()
		out = append(out, rs...)
	}
	if len(missW) > 0 {
		rs, err := c.store.routesByWABA(ctx, missW)
		if err != nil {
			return nil, err
		}
		byWABA := map[string][]route{}
		for _, r := range rs {
			byWABA[r.WABAID] = append(byWABA[r.WABAID], r)
		}
		c.mu.Lock()
		for w, list := range byWABA {
			c.m["w:"+w] = routeEntry{routes: list, expires: now.Add(c.ttl)}
		}
		c.mu.Unlock()
		out = append(out, rs...)
	}
	// Deduplicate by session.
	seen := map[string]bool{}
	uniq := out[:0]
	for _, r := range out {
		if !seen[r.SessionID] {
			seen[r.SessionID] = true
			uniq = append(uniq, r)
		}
	}
	return uniq, nil
}

// routeForSession returns the route of a session's number (not cached:
// used outside the webhook path).
func (c *routeCache) routeForSession(ctx context.Context, sessionID string) (*route, error) {
	rs, err := c.store.routesBySession(ctx, sessionID)
	if err != nil || len(rs) == 0 {
		return nil, err
	}
	return &rs[0], nil
}

// routeFor returns the route of one number (processing side).
func (c *routeCache) routeFor(ctx context.Context, phoneNumberID string) (*route, error) {
	rs, err := c.lookup(ctx, []string{phoneNumberID}, nil)
	if err != nil || len(rs) == 0 {
		return nil, err
	}
	return &rs[0], nil
}
