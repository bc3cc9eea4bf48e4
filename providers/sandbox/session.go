package sandbox

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
)

// Initialize implements providers.SessionManager: a sandbox number connects
// at once (no QR code) and the state is persisted through the sink.
func (p *Provider) Initialize(ctx context.Context, ip providers.InitializeParams) (providers.SessionState, error) {
	if ip.SessionID == "" {
		return providers.SessionState{}, errors.New("sandbox initialize: session id is required")
	}
	st := providers.SessionState{State: providers.StateConnected, JID: ip.PhoneNumber + "@sandbox"}
	if err := p.setState(ctx, ip.SessionID, st); err != nil {
		return providers.SessionState{}, err
	}
	return st, nil
}

// Status implements providers.SessionManager. Sessions this process never
// saw are reported disconnected.
func (p *Provider) Status(ctx context.Context, sessionID string) (providers.SessionState, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if st, ok := p.sessions[sessionID]; ok {
		return st, nil
	}
	return providers.SessionState{State: providers.StateDisconnected}, nil
}

// Disconnect implements providers.SessionManager. Sends on a disconnected
// session fail with SessionUnavailableError until Initialize is called again.
func (p *Provider) Disconnect(ctx context.Context, sessionID string, logout bool) error {
	st := providers.SessionState{State: providers.StateDisconnected}
	if logout {
		st.State = providers.StateLoggedOut
	}
	return p.setState(ctx, sessionID, st)
}

// SetSessionState forces a session into state (e.g. "banned") to exercise how
// the pipeline reacts; it is persisted through the sink like a real event.
func (p *Provider) SetSessionState(ctx context.Context, sessionID string, st providers.SessionState) error {
	return p.setState(ctx, sessionID, st)
}

func (p *Provider) setState(ctx context.Context, sessionID string, st providers.SessionState) error {
	p.mu.Lock()
	p.sessions[sessionID] = st
	p.mu.Unlock()
	if p.cfg.Sink != nil {
		if err := p.cfg.Sink.SessionState(ctx, sessionID, st); err != nil {
			return fmt.Errorf("sandbox session %s: %w", sessionID, err)
		}
	}
	return nil
}

// MarkRead implements providers.ReadMarker (recorded, see MarkedRead).
func (p *Provider) MarkRead(ctx context.Context, mp providers.MarkReadParams) error {
	if len(mp.ProviderMessageIDs) == 0 {
		return &providers.PermanentError{Code: string(zapbase.CodeInvalidInput), Reason: "Nenhuma mensagem para marcar como lida.",
			Err: errors.New("sandbox mark read: no message ids")}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.markedRead = append(p.markedRead, mp)
	if mp.Typing {
		p.typing[mp.SessionID+"|"+mp.Sender] = true
	}
	return nil
}

// MarkedRead returns the read marks received so far.
func (p *Provider) MarkedRead() []providers.MarkReadParams {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]providers.MarkReadParams(nil), p.markedRead...)
}

// SetTyping implements providers.TypingIndicator.
func (p *Provider) SetTyping(ctx context.Context, sessionID, to string, typing bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.typing[sessionID+"|"+to] = typing
	return nil
}

// Typing reports whether "typing…" is shown in the chat with to.
func (p *Provider) Typing(sessionID, to string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.typing[sessionID+"|"+to]
}

// InboundParams describe a simulated message from a contact.
type InboundParams struct {
	TenantID  string
	SessionID string
	// From is the contact's number; To the session's number.
	From, To string
	PushName string
	// Type defaults to text.
	Type    zapbase.MessageType
	Content providers.Content
	// ProviderMessageID defaults to a fresh id; reuse one to simulate a
	// redelivery.
	ProviderMessageID string
	Timestamp         time.Time
	// Group, when set (a JID "…@g.us"), makes it a group message written by
	// From in that group (dropped when the session ignores groups).
	Group string
}

// SimulateInbound makes a contact send a message to the session: it is
// written through the sink exactly as a real channel's event would be, and
// the provider message id is returned ("" when the session's settings drop
// it).
func (p *Provider) SimulateInbound(ctx context.Context, ip InboundParams) (string, error) {
	if p.cfg.Sink == nil {
		return "", errors.New("sandbox simulate inbound: no event sink configured")
	}
	id := ip.ProviderMessageID
	if id == "" {
		id = p.NewMessageID()
	}
	typ := ip.Type
	if typ == "" {
		typ = zapbase.MessageText
	}
	ts := ip.Timestamp
	if ts.IsZero() {
		ts = time.Now()
	}
	chat := ip.From
	if ip.Group != "" {
		if p.Settings(ip.SessionID).IgnoreGroups {
			return "", nil // features.go
		}
		chat = ip.Group
	}
	err := p.cfg.Sink.Inbound(ctx, providers.InboundMessage{
		TenantID: ip.TenantID, SessionID: ip.SessionID, Provider: zapbase.ProviderSandbox,
		ProviderMessageID: id, From: ip.From, PushName: ip.PushName, To: ip.To,
		Type: typ, Content: ip.Content, Timestamp: ts, Chat: chat, IsGroup: ip.Group != "",
	})
	if err != nil {
		return "", fmt.Errorf("sandbox simulate inbound: %w", err)
	}
	return id, nil
}
