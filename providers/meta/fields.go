package meta

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Webhook fields beyond messages (shapes from Meta's webhook references;
// fixtures in testdata/):
//
//   - message_template_status_update: {event, message_template_id,
//     message_template_name, message_template_language, reason,
//     other_info{title, description}} → wa.meta_templates.status;
//   - message_template_quality_update: {previous_quality_score,
//     new_quality_score, message_template_id, message_template_name,
//     message_template_language} → wa.meta_templates.quality;
//   - template_category_update: {message_template_id,
//     message_template_name, message_template_language, previous_category,
//     new_category} → wa.meta_templates.category;
//   - user_preferences: {metadata, contacts, user_preferences[{wa_id,
//     user_id?, detail, category: "marketing_messages", value:
//     "stop"|"resume", timestamp}]} → wa.meta_opt_outs.

// optOutMarketing is Meta's user_preferences category for marketing.
const optOutMarketing = "marketing_messages"

type templateEvent struct {
	Event            string          `json:"event"`
	ID               json.RawMessage `json:"message_template_id"`
	Name             string          `json:"message_template_name"`
	Language         string          `json:"message_template_language"`
	Reason           string          `json:"reason"`
	NewQuality       string          `json:"new_quality_score"`
	NewCategory      string          `json:"new_category"`
	TemplateCategory string          `json:"message_template_category"`
	OtherInfo        *struct {
		Title       string `json:"title"`
		Description string `json:"description"`
	} `json:"other_info"`
}

// applyTemplateUpdate records a template webhook; sends of a paused or
// disabled template are then refused before Meta is called.
func (p *Provider) applyTemplateUpdate(ctx context.Context, wabaID, field string, raw json.RawMessage) error {
	var ev templateEvent
	if err := json.Unmarshal(raw, &ev); err != nil || ev.Name == "" || ev.Language == "" {
		p.log.Warn("meta template webhook without name/language, skipped", "waba_id", wabaID, "field", field)
		return nil
	}
	u := templateUpdate{WABAID: wabaID, Name: ev.Name, Language: ev.Language,
		ID: strings.Trim(string(ev.ID), `"`)}
	switch field {
	case "message_template_status_update":
		u.Status = ev.Event
		u.Reason = ev.Reason
		if ev.OtherInfo != nil {
			u.Reason = strings.TrimSpace(strings.Join([]string{ev.OtherInfo.Title, ev.OtherInfo.Description}, ": "))
		}
		if u.Reason == "NONE" {
			u.Reason = ""
		}
		u.Cat = ev.TemplateCategory
	case "message_template_quality_update":
		u.Quality = ev.NewQuality
	case "template_category_update":
		u.Cat = ev.NewCategory
	}
	p.log.Info("meta template update", "waba_id", wabaID, "field", field, "template", ev.Name,
		"language", ev.Language, "status", u.Status, "quality", u.Quality, "category", u.Cat)
	return p.store.upsertTemplate(ctx, u)
}

// applyUserPreference records a marketing stop/resume.
func (p *Provider) applyUserPreference(ctx context.Context, rt *route, up waUserPref) error {
	if up.Category != optOutMarketing {
		p.log.Info("meta user preference of another category, ignored", "tenant_id", rt.TenantID, "category", up.Category)
		return nil
	}
	var stop bool
	switch strings.ToLower(up.Value) {
	case "stop":
		stop = true
	case "resume":
	default:
		p.log.Warn("meta user preference with an unknown value, ignored", "tenant_id", rt.TenantID, "value", up.Value)
		return nil
	}
	at := p.now()
	if n, err := strconv.ParseInt(strings.Trim(string(up.Timestamp), `" `), 10, 64); err == nil && n > 0 {
		at = time.Unix(n, 0).UTC()
	}
	for _, c := range []string{up.WaID, up.UserID} {
		if err := p.store.setOptOut(ctx, rt.TenantID, rt.SessionID, c, optOutMarketing, stop, up.Detail, at); err != nil {
			return err
		}
	}
	if up.WaID != "" && up.UserID != "" {
		return p.store.linkContact(ctx, rt.TenantID, rt.SessionID, contactIdentity{WaID: up.WaID, BSUID: up.UserID})
	}
	return nil
}
