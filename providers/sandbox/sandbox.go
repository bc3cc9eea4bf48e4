// Package sandbox is a local WhatsApp simulator: a provider that behaves like
// a real number without any network, for `zapbase dev`, demos, end-to-end
// tests and benchmarks.
//
// Like a real channel it validates recipients, answers provider message ids
// (and honours caller-chosen ones, as WhatsApp Web does), reports sent,
// delivered and read receipts through the EventSink after configurable
// delays, can be told to fail (classified errors, for the next N sends or for
// recipients matching a pattern), can be slowed down, and simulates inbound
// messages. It counts sends per provider message id so crash tests can count
// duplicate sends.
package sandbox

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/startstop"
)

// Default receipt delays: quick enough for a demo, slow enough to watch a row
// walk sent → delivered → read in the frontend.
const (
	DefaultSentDelay      = 0
	DefaultDeliveredDelay = 300 * time.Millisecond
	DefaultReadDelay      = 1500 * time.Millisecond
)

// IDPrefix starts every sandbox provider message id.
const IDPrefix = "SBX"

// Config tunes the simulator. The zero value is usable (no EventSink: no
// receipts, inbound messages cannot be simulated).
type Config struct {
	// Sink receives receipts, inbound messages and session states.
	Sink providers.EventSink
	// SentDelay, DeliveredDelay and ReadDelay are the times after a send at
	// which each receipt is reported. A negative value disables that
	// receipt. Zero values take the defaults unless ZeroDelay is set.
	SentDelay, DeliveredDelay, ReadDelay time.Duration
	// ZeroDelay reports every receipt immediately (benchmarks).
	ZeroDelay bool
	// NoReceipts disables receipts altogether.
	NoReceipts bool
	// SendLatency makes every Send take this long (simulated network).
	SendLatency time.Duration
	// OnSendFunc, when set, is called at the start of every Send (tests and
	// benchmarks measure insert → provider-call latency with it).
	OnSendFunc func(msg providers.OutboundMessage)
	// Feed and Outbox, when set, receive simulated calls and presence
	// (change feed) and call-rejection messages (features.go).
	Feed   providers.FeedSink
	Outbox providers.Outbox
	Logger *slog.Logger
}

// Provider is the sandbox channel. It is safe for concurrent use.
type Provider struct {
	// The run is the receipt emitter.
	startstop.BaseStartStop

	cfg Config
	log *slog.Logger

	mu         sync.Mutex
	sends      map[string]int
	total      int
	failNext   []error
	failRecip  []recipientFailure
	sessions   map[string]providers.SessionState
	typing     map[string]bool
	markedRead []providers.MarkReadParams
	receipts   *receiptQueue
	featOnce   sync.Once
	features   *features
}

type recipientFailure struct {
	pattern string
	err     error
}

var (
	_ providers.Provider        = (*Provider)(nil)
	_ providers.IDGenerator     = (*Provider)(nil)
	_ providers.SessionManager  = (*Provider)(nil)
	_ providers.ReadMarker      = (*Provider)(nil)
	_ providers.TypingIndicator = (*Provider)(nil)
)

// New returns a sandbox provider, already started: its receipt emitter runs
// until Stop (or Close), so tests need no Start. Start after a Stop resumes
// it; receipts queued meanwhile are reported late.
func New(cfg Config) *Provider {
	if !cfg.ZeroDelay {
		if cfg.SentDelay == 0 {
			cfg.SentDelay = DefaultSentDelay
		}
		if cfg.DeliveredDelay == 0 {
			cfg.DeliveredDelay = DefaultDeliveredDelay
		}
		if cfg.ReadDelay == 0 {
			cfg.ReadDelay = DefaultReadDelay
		}
	} else {
		cfg.SentDelay, cfg.DeliveredDelay, cfg.ReadDelay = clampZero(cfg.SentDelay), clampZero(cfg.DeliveredDelay), clampZero(cfg.ReadDelay)
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	p := &Provider{
		cfg:      cfg,
		log:      log.With("component", "provider.sandbox"),
		sends:    make(map[string]int),
		sessions: make(map[string]providers.SessionState),
		typing:   make(map[string]bool),
	}
	if cfg.Sink != nil && !cfg.NoReceipts {
		p.receipts = newReceiptQueue()
	}
	_ = p.Start(context.Background()) // never fails
	return p
}

func clampZero(d time.Duration) time.Duration {
	if d < 0 {
		return d
	}
	return 0
}

// Start runs the receipt emitter (a no-op while running). Cancelling ctx
// stops it. Without a sink or with NoReceipts there is nothing to run: the
// provider stays stopped.
func (p *Provider) Start(ctx context.Context) error {
	ctx, shouldStart, started, stopped := p.StartInit(ctx)
	if !shouldStart {
		return nil
	}
	if p.receipts == nil {
		stopped()
		return nil
	}
	go func() {
		started()
		defer stopped()
		p.emitReceipts(ctx)
	}()
	return nil
}

// Stop stops reporting receipts and waits; receipts not yet due stay
// queued until the next Start. Idempotent.
func (p *Provider) Stop() { p.BaseStartStop.Stop() }

// Close is Stop.
func (p *Provider) Close() { p.Stop() }

// Type implements providers.Provider.
func (p *Provider) Type() zapbase.ProviderType { return zapbase.ProviderSandbox }

// supported lists what the simulator accepts; system and unsupported are
// inbound-only kinds and read marks go through MarkRead.
var supported = []zapbase.MessageType{
	zapbase.MessageText, zapbase.MessageImage, zapbase.MessageVideo, zapbase.MessageAudio,
	zapbase.MessageVoice, zapbase.MessageDocument, zapbase.MessageSticker, zapbase.MessageLocation,
	zapbase.MessageContacts, zapbase.MessageTemplate, zapbase.MessageInteractive, zapbase.MessageReaction,
	zapbase.MessagePoll,
}

// Capabilities implements providers.Provider.
func (p *Provider) Capabilities() providers.Capabilities {
	return providers.Capabilities{
		MessageTypes:     append([]zapbase.MessageType(nil), supported...),
		CallerMessageIDs: true,
		ReadReceipts:     true,
		Typing:           true,
		MaxMediaBytes:    100 << 20,
	}
}

// MessageIDFor implements providers.StableIDGenerator.
func (p *Provider) MessageIDFor(rowID string) string {
	h := sha256.Sum256([]byte("zapbase/sandbox/" + rowID))
	return IDPrefix + strings.ToUpper(hex.EncodeToString(h[:10]))
}

// NewMessageID implements providers.IDGenerator.
func (p *Provider) NewMessageID() string {
	b := make([]byte, 10)
	_, _ = rand.Read(b)
	return IDPrefix + strings.ToUpper(hex.EncodeToString(b))
}

var recipientPattern = regexp.MustCompile(`^(\+?[0-9]{8,15}|[0-9A-Za-z.:_-]+@[a-z.]+)$`)

// Send implements providers.Provider.
func (p *Provider) Send(ctx context.Context, msg providers.OutboundMessage) (providers.SendResult, error) {
	if p.cfg.OnSendFunc != nil {
		p.cfg.OnSendFunc(msg)
	}
	if p.cfg.SendLatency > 0 {
		t := time.NewTimer(p.cfg.SendLatency)
		select {
		case <-ctx.Done():
			t.Stop()
			return providers.SendResult{}, &providers.RetryableError{Err: fmt.Errorf("sandbox send: %w", ctx.Err())}
		case <-t.C:
		}
	}
	if err := ctx.Err(); err != nil {
		return providers.SendResult{}, &providers.RetryableError{Err: fmt.Errorf("sandbox send: %w", err)}
	}
	if !p.Capabilities().Supports(msg.Type) {
		return providers.SendResult{}, &providers.PermanentError{
			Code:   string(zapbase.CodeUnsupported),
			Reason: fmt.Sprintf("O tipo de mensagem %q não é suportado pelo sandbox.", msg.Type),
			Err:    fmt.Errorf("sandbox send %s: %w", msg.Type, providers.ErrUnsupported),
		}
	}
	if !recipientPattern.MatchString(msg.To) {
		return providers.SendResult{}, &providers.PermanentError{
			Code:   string(zapbase.CodeInvalidRecipient),
			Reason: "Destinatário inválido: informe o número com DDI e DDD, só dígitos.",
			Err:    fmt.Errorf("sandbox send: invalid recipient %q", msg.To),
		}
	}
	if msg.Type == zapbase.MessageText && strings.TrimSpace(msg.Content.Text) == "" {
		return providers.SendResult{}, &providers.PermanentError{
			Code:   string(zapbase.CodeInvalidContent),
			Reason: "Mensagem de texto vazia.",
			Err:    errors.New("sandbox send: empty text"),
		}
	}
	if msg.Type == zapbase.MessagePoll && (msg.Content.Poll == nil || msg.Content.Poll.Name == "" || len(msg.Content.Poll.Options) < 2) {
		return providers.SendResult{}, &providers.PermanentError{
			Code:   "invalid_content",
			Reason: "Enquete sem pergunta ou com menos de 2 opções.",
			Err:    errors.New("sandbox send: invalid poll"),
		}
	}
	id := msg.ProviderMessageID
	if id == "" {
		id = p.NewMessageID()
	}

	p.mu.Lock()
	if st, ok := p.sessions[msg.SessionID]; ok && !providers.Usable(st.State) {
		p.mu.Unlock()
		return providers.SendResult{}, &providers.SessionUnavailableError{
			State: st.State, Err: fmt.Errorf("sandbox session %s is %s", msg.SessionID, st.State),
		}
	}
	if err := p.takeFailureLocked(msg.To); err != nil {
		p.mu.Unlock()
		return providers.SendResult{}, err
	}
	p.sends[id]++
	p.total++
	p.mu.Unlock()

	now := time.Now()
	if p.receipts != nil {
		p.scheduleReceipts(msg, id, now)
	}
	return providers.SendResult{ProviderMessageID: id, RecipientID: strings.TrimPrefix(msg.To, "+"), Timestamp: now}, nil
}

func (p *Provider) takeFailureLocked(to string) error {
	for _, f := range p.failRecip {
		if ok, _ := path.Match(f.pattern, to); ok {
			return f.err
		}
	}
	if len(p.failNext) > 0 {
		err := p.failNext[0]
		p.failNext = p.failNext[1:]
		return err
	}
	return nil
}

// FailNext makes the next n sends fail with err (a classified error from
// package providers). Failures queue up across calls.
func (p *Provider) FailNext(n int, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for range n {
		p.failNext = append(p.failNext, err)
	}
}

// FailRecipient makes every send to a recipient matching pattern (path.Match
// syntax, e.g. "5511999*") fail with err until ClearFailures.
func (p *Provider) FailRecipient(pattern string, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failRecip = append(p.failRecip, recipientFailure{pattern: pattern, err: err})
}

// ClearFailures forgets every configured failure.
func (p *Provider) ClearFailures() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failNext, p.failRecip = nil, nil
}

// SendCount is how many times the channel accepted a message with this
// provider id (more than one: a duplicate send).
func (p *Provider) SendCount(providerMessageID string) int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.sends[providerMessageID]
}

// SendStats summarises accepted sends.
type SendStats struct {
	// Total accepted sends, duplicates included.
	Total int
	// Unique provider message ids accepted.
	Unique int
	// Duplicates is Total - Unique: sends that repeated an id.
	Duplicates int
}

// Stats answers the send counters.
func (p *Provider) Stats() SendStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return SendStats{Total: p.total, Unique: len(p.sends), Duplicates: p.total - len(p.sends)}
}

// SendCounts returns a copy of the per-id send counters.
func (p *Provider) SendCounts() map[string]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[string]int, len(p.sends))
	for k, v := range p.sends {
		out[k] = v
	}
	return out
}

// ErrorOf returns a representative classified error of the given kind
// ("retryable", "rate_limited", "permanent", "auth_lost",
// "session_unavailable", "ambiguous"), to pass to FailNext/FailRecipient.
// Unknown kinds give a retryable error.
func ErrorOf[K ~string](kind K) error {
	cause := fmt.Errorf("sandbox: simulated %s failure", string(kind))
	switch providers.ErrorClass(kind) {
	case providers.ClassRateLimited:
		return &providers.RateLimitedError{After: time.Second, Scope: providers.ScopeNumber, Code: string(zapbase.CodeSandboxThrottled), Err: cause}
	case providers.ClassPermanent:
		return &providers.PermanentError{Code: string(zapbase.CodeSandboxRejected), Reason: "Mensagem recusada pelo sandbox (falha simulada).", Err: cause}
	case providers.ClassAuthLost:
		return &providers.AuthLostError{Code: string(zapbase.CodeSandboxAuthLost), Reason: "Sessão do sandbox desconectada (falha simulada).", Err: cause}
	case providers.ClassSessionUnavailable:
		return &providers.SessionUnavailableError{State: providers.StateDisconnected, Err: cause}
	case providers.ClassAmbiguous:
		return &providers.AmbiguousError{Err: cause}
	}
	return &providers.RetryableError{Err: cause}
}
