package dispatch

import (
	"context"
	"encoding/json"
	"fmt"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/store"
)

// The event sink's writes for the providers' corrections of rows (pricing,
// late media, edits, deletions, auto-read, undecryptable placeholders,
// session data and passkey states), through the data layer.

func (e *Events) store() *store.Store { return e.db }

// RecordPricing implements providers.EventSink.
func (e *Events) RecordPricing(ctx context.Context, p providers.RecordPricingParams) (providers.PricingResult, error) {
	r, err := e.store().Messages().RecordMetaPricing(ctx, p.TenantID, p.ProviderMessageID, p.Pricing)
	if err != nil {
		return providers.PricingResult{}, err
	}
	return providers.PricingResult{MessageType: zapbase.MessageType(r.MessageType), TemplateName: r.TemplateName,
		TemplateLanguage: r.TemplateLanguage}, nil
}

// SetInboundMedia implements providers.EventSink.
func (e *Events) SetInboundMedia(ctx context.Context, p providers.SetInboundMediaParams) error {
	return e.store().Messages().SetMetaInboundMedia(ctx, store.SetMetaInboundMediaParams{
		TenantID: p.TenantID, ProviderMessageID: p.ProviderMessageID,
		MediaURL: p.Media.MediaURL, MediaPath: p.Media.MediaPath, SizeBytes: p.Media.SizeBytes, MimeType: p.Media.MimeType,
		ClearErrorCodes: p.ClearErrorCodes,
	})
}

// MergeSessionData implements providers.EventSink.
func (e *Events) MergeSessionData(ctx context.Context, sessionID string, data json.RawMessage) error {
	return e.store().Sessions().MergeSessionData(ctx, sessionID, data)
}

// PasskeyState implements providers.EventSink.
func (e *Events) PasskeyState(ctx context.Context, sessionID string, s providers.SessionState) error {
	return e.store().Sessions().SetPasskeyState(ctx, sessionID, s)
}

// FillUndecryptable implements providers.EventSink.
func (e *Events) FillUndecryptable(ctx context.Context, m providers.InboundMessage) (bool, error) {
	content, err := json.Marshal(m.Content)
	if err != nil {
		return false, fmt.Errorf("encode content: %w", err)
	}
	return e.store().Messages().FillUndecryptable(ctx, store.FillUndecryptableParams{
		TenantID: m.TenantID, SessionID: m.SessionID, ProviderMessageID: m.ProviderMessageID,
		Type: m.Type, Content: content, From: m.From,
	})
}

// ApplyEdit implements providers.EventSink.
func (e *Events) ApplyEdit(ctx context.Context, p providers.ApplyEditParams) (bool, error) {
	return e.store().Messages().ApplyEdit(ctx, store.ApplyEditParams{TenantID: p.TenantID, Provider: p.Provider,
		ProviderMessageID: p.ProviderMessageID, Text: p.Text, At: p.At, Direction: p.Direction})
}

// ApplyRevoke implements providers.EventSink.
func (e *Events) ApplyRevoke(ctx context.Context, p providers.ApplyRevokeParams) (bool, error) {
	return e.store().Messages().ApplyBaileysRevoke(ctx, p.TenantID, p.ProviderMessageID, p.Direction, p.At)
}

// MarkInboundRead implements providers.EventSink.
func (e *Events) MarkInboundRead(ctx context.Context, tenantID, providerMessageID string) error {
	return e.store().Messages().MarkBaileysInboundRead(ctx, tenantID, providerMessageID)
}
