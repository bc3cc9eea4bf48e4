package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"sync"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/adapters/humago"
	"github.com/jackc/pgx/v5"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/store"
)

// Server-sent events (GET /api/v1/events).
//
// The stream is fed by the change feed wa.change_log (migration 000110),
// written by triggers in the same transactions as the rows. One EventHub
// per process polls it for every connected tenant at once and fans rows out
// in process: a thousand open streams cost one query per poll, not a
// thousand.
//
// Ordering and resume: identity values are taken at insert, not at commit,
// so the hub only reads rows whose transaction is older than the oldest one
// still running (txid < pg_snapshot_xmin(pg_current_snapshot())) — those
// are final — in (txid, id) order, and remembers the last (txid, id) it
// read. Each event's SSE id is "<txid>-<id>"; a client that reconnects with
// Last-Event-ID first receives the rows of its tenant after that position
// up to the hub's position (read once, at connect), then the live rows.
//
// Authentication is the API's (Authorization + X-Client-Id, or X-API-Key):
// the browser's EventSource cannot send headers, so the console reads the
// stream with fetch() and parses it (any SSE client that sends headers
// works). Tokens never travel in URLs, where access logs would keep them.

// Limits of the event stream.
const (
	// DefaultEventPollInterval paces the hub's query while streams are open.
	DefaultEventPollInterval = 250 * time.Millisecond
	// eventBatch bounds one read of the change feed.
	eventBatch = 1000
	// eventCatchUpMax bounds the replay after Last-Event-ID; a client
	// further behind receives a "reset" event and reloads what it shows.
	eventCatchUpMax = 5000
	// eventBuffer is how many events a slow stream may lag behind before
	// it is closed (the client resumes with Last-Event-ID).
	eventBuffer = 1024
	// eventHeartbeat keeps proxies from closing an idle stream.
	eventHeartbeat = 15 * time.Second
	// eventRetryMillis is the reconnect delay advised to clients.
	eventRetryMillis = 2000
	// MaxEventStream bounds one stream; the client reconnects and resumes.
	MaxEventStream = time.Hour
)

// EventCursor is a position in the change feed: (txid, id).
type EventCursor struct {
	TxID uint64
	ID   int64
}

// String is the SSE id form "<txid>-<id>".
func (c EventCursor) String() string {
	return strconv.FormatUint(c.TxID, 10) + "-" + strconv.FormatInt(c.ID, 10)
}

// Less orders cursors as the feed does.
func (c EventCursor) Less(o EventCursor) bool {
	return c.TxID < o.TxID || (c.TxID == o.TxID && c.ID < o.ID)
}

var cursorPattern = regexp.MustCompile(`^([0-9]{1,20})-([0-9]{1,19})$`)

// ParseEventCursor parses an SSE id written by the stream.
func ParseEventCursor(s string) (EventCursor, bool) {
	m := cursorPattern.FindStringSubmatch(s)
	if m == nil {
		return EventCursor{}, false
	}
	tx, err1 := strconv.ParseUint(m[1], 10, 64)
	id, err2 := strconv.ParseInt(m[2], 10, 64)
	if err1 != nil || err2 != nil {
		return EventCursor{}, false
	}
	return EventCursor{TxID: tx, ID: id}, true
}

// ChangeEvent is one row of the change feed as streamed.
type ChangeEvent struct {
	Cursor    EventCursor     `json:"-"`
	TenantID  string          `json:"-"`
	Topic     string          `json:"topic" doc:"message.received, message.created, ai.reply, message.status, message.updated, session.state, session.qr..." example:"message.status"`
	SessionID *string         `json:"sessionId,omitempty" doc:"whatsapp_sessions.id"`
	MessageID *string         `json:"messageId,omitempty" doc:"messages.id (tópicos de mensagem)"`
	Chat      *string         `json:"chat,omitempty" doc:"Contato da conversa (número ou JID)" example:"5511988887777"`
	Data      json.RawMessage `json:"data" doc:"O que mudou (status, status anterior, motivo do erro, estado da sessão, QR code...)"`
	CreatedAt time.Time       `json:"createdAt"`
}

// EventHub polls the change feed once per process for every open stream.
// Its poll loop runs only while streams are open. It is safe for
// concurrent use.
type EventHub struct {
	store    *store.Store
	log      *slog.Logger
	interval time.Duration

	mu      sync.Mutex
	subs    map[*eventSub]struct{}
	cursor  EventCursor
	running bool
	closed  bool
}

type eventSub struct {
	tenantID string
	ch       chan ChangeEvent
	// done is closed when the hub drops the stream (lagging or shutdown).
	done   chan struct{}
	reason string
}

// NewEventHub returns a hub reading the change feed through st every
// interval (0: DefaultEventPollInterval).
func NewEventHub(st *store.Store, log *slog.Logger, interval time.Duration) *EventHub {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if interval <= 0 {
		interval = DefaultEventPollInterval
	}
	return &EventHub{store: st, log: log.With("component", "events"), interval: interval,
		subs: map[*eventSub]struct{}{}}
}

// Close ends every open stream and refuses new ones (http.Server's
// RegisterOnShutdown: open streams would otherwise hold the shutdown).
func (h *EventHub) Close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closed = true
	for s := range h.subs {
		h.dropLocked(s, "shutdown")
	}
}

func (h *EventHub) dropLocked(s *eventSub, reason string) {
	if _, ok := h.subs[s]; !ok {
		return
	}
	delete(h.subs, s)
	s.reason = reason
	close(s.done)
}

var errHubClosed = errors.New("event hub closed")

// subscribe registers a stream of tenantID and returns the hub's position:
// the stream receives every row after it.
func (h *EventHub) subscribe(ctx context.Context, tenantID string) (*eventSub, EventCursor, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, EventCursor{}, errHubClosed
	}
	if !h.running {
		cur, err := h.head(ctx)
		if err != nil {
			return nil, EventCursor{}, err
		}
		// Never move backwards (a previous run may have read further).
		if h.cursor.Less(cur) {
			h.cursor = cur
		}
		h.running = true
		go h.loop()
	}
	s := &eventSub{tenantID: tenantID, ch: make(chan ChangeEvent, eventBuffer), done: make(chan struct{})}
	h.subs[s] = struct{}{}
	return s, h.cursor, nil
}

func (h *EventHub) unsubscribe(s *eventSub) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.dropLocked(s, "")
}

// head is the last final row of the feed.
func (h *EventHub) head(ctx context.Context) (EventCursor, error) {
	var c EventCursor
	tx, id, err := h.store.ChangeLog().Head(ctx)
	if errors.Is(err, pgx.ErrNoRows) {
		return EventCursor{}, nil
	}
	if err != nil {
		return c, err
	}
	c.ID = id
	c.TxID, err = strconv.ParseUint(tx, 10, 64)
	return c, err
}

// pruned reports whether the feed's oldest row is past c: rows between
// them may have been deleted by retention.
func (h *EventHub) pruned(ctx context.Context, c EventCursor) bool {
	tx, id, err := h.store.ChangeLog().Oldest(ctx)
	if err != nil {
		return false // empty feed (nothing missed) or a failed read (the catch-up reports it)
	}
	first := EventCursor{ID: id}
	first.TxID, _ = strconv.ParseUint(tx, 10, 64)
	return c.Less(first)
}

// readFeed reads final rows after from (optionally one tenant's, and up to
// upTo inclusive), in feed order.
func readFeed(ctx context.Context, st *store.Store, from EventCursor, tenantID string, upTo *EventCursor, limit int) ([]ChangeEvent, error) {
	p := store.ReadFeedParams{AfterTxID: strconv.FormatUint(from.TxID, 10), AfterID: from.ID, Limit: limit}
	if tenantID != "" {
		p.TenantID = &tenantID
	}
	if upTo != nil {
		s := strconv.FormatUint(upTo.TxID, 10)
		p.UpToTxID, p.UpToID = &s, upTo.ID
	}
	rows, err := st.ChangeLog().Read(ctx, p)
	if err != nil {
		return nil, err
	}
	out := make([]ChangeEvent, 0, len(rows))
	for _, r := range rows {
		e := ChangeEvent{Cursor: EventCursor{ID: r.ID}, TenantID: r.TenantID, Topic: r.Topic, SessionID: r.SessionID,
			MessageID: r.MessageID, Chat: r.Chat, Data: r.Data, CreatedAt: r.CreatedAt}
		if e.Cursor.TxID, err = strconv.ParseUint(r.TxID, 10, 64); err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

func (h *EventHub) loop() {
	t := time.NewTicker(h.interval)
	defer t.Stop()
	for {
		h.mu.Lock()
		if len(h.subs) == 0 || h.closed {
			h.running = false
			h.mu.Unlock()
			return
		}
		from := h.cursor
		h.mu.Unlock()

		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		batch, err := readFeed(ctx, h.store, from, "", nil, eventBatch)
		cancel()
		if err != nil {
			h.log.Warn("poll change feed", "error", err)
		}
		h.mu.Lock()
		for _, e := range batch {
			for s := range h.subs {
				if s.tenantID != e.TenantID {
					continue
				}
				select {
				case s.ch <- e:
				default:
					h.dropLocked(s, "lagging")
				}
			}
			h.cursor = e.Cursor
		}
		h.mu.Unlock()
		if len(batch) == eventBatch {
			continue // more is waiting
		}
		<-t.C
	}
}

// EventsInput are the parameters of GET /events.
type EventsInput struct {
	LastEventID string `header:"Last-Event-ID" maxLength:"64" doc:"Id do último evento recebido (\"<txid>-<id>\"): a conexão retoma logo depois dele"`
	After       string `query:"after" maxLength:"64" doc:"O mesmo que Last-Event-ID, para clientes que não enviam o cabeçalho"`
}

func (s *Server) registerEvents(r *Router) {
	op := s.tenantOp(huma.Operation{
		OperationID: "events", Method: http.MethodGet, Path: "/events", Tags: []string{"Eventos"},
		Summary: "Fluxo de eventos do tenant (server-sent events)",
		Description: "Conexão `text/event-stream` com tudo o que muda no tenant: mensagens recebidas e criadas (`message.received`, " +
			"`message.created`, `ai.reply`), cada mudança de status (`message.status`, com `error_reason` em português quando `failed`), " +
			"estado e QR code das sessões (`session.state`, `session.qr`).\n\n" +
			"Cada evento tem `id` (`<txid>-<id>`, a posição no feed de mudanças `wa.change_log`), `event` (o tópico) e `data` (JSON). " +
			"Ao reconectar, envie `Last-Event-ID` (ou `?after=`) com o último id recebido: os eventos perdidos chegam primeiro, na ordem. " +
			"O primeiro evento de toda conexão é `ready` (depois da recuperação); `reset` avisa que o cliente ficou para trás demais e deve " +
			"recarregar o que mostra. Comentários `: ping` a cada 15 s mantêm a conexão viva; o servidor encerra a conexão depois de 1 h " +
			"(reconecte com `Last-Event-ID`).\n\n" +
			"Autenticação por cabeçalho, como o resto da API (`Authorization` + `X-Client-Id`, ou `X-API-Key`): no navegador, leia com " +
			"`fetch()` (o `EventSource` nativo não envia cabeçalhos). Exemplo: `curl -N -H 'Authorization: Bearer …' -H 'X-Client-Id: demo' " +
			"…/api/v1/events`.",
		Responses: map[string]*huma.Response{
			"200": {Description: "Fluxo de eventos", Content: map[string]*huma.MediaType{
				"text/event-stream": {Schema: &huma.Schema{Type: "string",
					Examples: []any{"id: 812-4411\nevent: message.status\ndata: {\"topic\":\"message.status\",\"messageId\":\"…\",\"chat\":\"5511988887777\",\"data\":{\"status\":\"read\",\"previous\":\"delivered\"},\"createdAt\":\"2026-01-01T12:00:00Z\"}\n\n"}}},
			}},
		},
	})
	op.Errors = mergeErrors(op.Errors, []int{http.StatusServiceUnavailable})
	huma.Register(s.v1, op, func(ctx context.Context, in *EventsInput) (*huma.StreamResponse, error) {
		t := MustTenant(ctx)
		last := in.LastEventID
		if last == "" {
			last = in.After
		}
		var resume *EventCursor
		if last != "" {
			c, ok := ParseEventCursor(last)
			if !ok {
				return nil, errInvalid("Last-Event-ID inválido: use o id de um evento recebido (\"<txid>-<id>\").",
					FieldError{Location: "header.Last-Event-ID", Message: "formato <txid>-<id>", Value: last})
			}
			resume = &c
		}
		sub, head, err := s.events.subscribe(ctx, t.ID)
		if errors.Is(err, errHubClosed) {
			return nil, NewProblem(http.StatusServiceUnavailable, zapbase.CodeUnavailable, "O servidor está encerrando; reconecte em instantes.")
		}
		if err != nil {
			return nil, Internal(err)
		}
		return &huma.StreamResponse{Body: func(hctx huma.Context) {
			defer s.events.unsubscribe(sub)
			s.stream(hctx, t, sub, head, resume)
		}}, nil
	})
}

// stream writes the catch-up, then live events, until the client leaves,
// the hub drops the stream or MaxEventStream passes.
func (s *Server) stream(hctx huma.Context, t Tenant, sub *eventSub, head EventCursor, resume *EventCursor) {
	_, w := humago.Unwrap(hctx)
	rc := http.NewResponseController(w)
	// The server's read/write timeouts bound ordinary requests; a stream
	// pushes its write deadline ahead at every write instead.
	_ = rc.SetReadDeadline(time.Time{})
	ctx, cancel := context.WithTimeout(hctx.Context(), MaxEventStream)
	defer cancel()

	h := w.Header()
	h.Set("Content-Type", "text/event-stream; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no") // nginx and friends: do not buffer
	w.WriteHeader(http.StatusOK)

	write := func(b []byte) bool {
		_ = rc.SetWriteDeadline(time.Now().Add(eventHeartbeat * 2))
		if _, err := w.Write(b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	if !write(fmt.Appendf(nil, "retry: %d\n\n", eventRetryMillis)) {
		return
	}
	send := func(e ChangeEvent) bool {
		data, _ := json.Marshal(e)
		return write(fmt.Appendf(nil, "id: %s\nevent: %s\ndata: %s\n\n", e.Cursor, e.Topic, data))
	}

	if resume != nil && resume.Less(head) && s.events.pruned(ctx, *resume) {
		// Rows after the client's id may be gone (feed retention): it
		// cannot be told what it missed, only to reload.
		if !write(fmt.Appendf(nil, "id: %s\nevent: reset\ndata: {\"reason\":\"feed_pruned\"}\n\n", head)) {
			return
		}
		resume = nil
	}
	if resume != nil && resume.Less(head) {
		from, sent := *resume, 0
		for {
			batch, err := readFeed(ctx, s.p.Store, from, t.ID, &head, eventBatch)
			if err != nil {
				s.log.Warn("events catch-up", "error", err, "tenant_id", t.ID)
				return // the client reconnects and tries again
			}
			for _, e := range batch {
				if !send(e) {
					return
				}
				from = e.Cursor
			}
			sent += len(batch)
			if len(batch) < eventBatch {
				break
			}
			if sent >= eventCatchUpMax {
				if !write(fmt.Appendf(nil, "id: %s\nevent: reset\ndata: {\"reason\":\"too_far_behind\"}\n\n", head)) {
					return
				}
				break
			}
		}
	}
	readyID := head
	if resume != nil && head.Less(*resume) {
		readyID = *resume
	}
	if !write(fmt.Appendf(nil, "id: %s\nevent: ready\ndata: {\"cursor\":%q}\n\n", readyID, readyID)) {
		return
	}

	beat := time.NewTicker(eventHeartbeat)
	defer beat.Stop()
	for {
		select {
		case e := <-sub.ch:
			if !readyID.Less(e.Cursor) {
				continue // already sent (a client resuming from ahead of this hub)
			}
			if !send(e) {
				return
			}
		case <-beat.C:
			if !write([]byte(": ping\n\n")) {
				return
			}
		case <-sub.done:
			// Drain what was queued before the drop, then end: the client
			// resumes from the last id it received.
			for {
				select {
				case e := <-sub.ch:
					if !send(e) {
						return
					}
				default:
					return
				}
			}
		case <-ctx.Done():
			return
		}
	}
}
