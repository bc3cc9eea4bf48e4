package meta

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"time"

	"github.com/zapbase/zapbase/providers"
)

// Account-level webhooks (entry[].id is the WABA id; value has no
// metadata.phone_number_id). Shapes from Meta's account_update and
// phone_number_quality_update webhook references; fixtures in testdata/.
type (
	accountUpdate struct {
		Event string `json:"event"`
		// WABAInfo names the WABA of PARTNER_*, AD_ACCOUNT_LINKED and
		// MM_LITE_TERMS_SIGNED, whose entry.id is the business portfolio.
		WABAInfo *struct {
			WABAID          string `json:"waba_id"`
			OwnerBusinessID string `json:"owner_business_id"`
		} `json:"waba_info"`
		BanInfo *struct {
			State string `json:"waba_ban_state"` // DISABLE | REINSTATE | SCHEDULE_FOR_DISABLE
			Date  string `json:"waba_ban_date"`  // free text, e.g. "April 17, 2025"
		} `json:"ban_info"`
		ViolationInfo *struct {
			Type string `json:"violation_type"`
		} `json:"violation_info"`
		RestrictionInfo []struct {
			Type string `json:"restriction_type"`
			// Expiration is Unix seconds in Meta's reference; partners
			// relay it as "2026-04-19T13:59:20+0000": both are read.
			Expiration json.RawMessage `json:"expiration"`
		} `json:"restriction_info"`
	}
	qualityUpdate struct {
		DisplayPhoneNumber string          `json:"display_phone_number"`
		Event              string          `json:"event"`
		CurrentLimit       string          `json:"current_limit"`
		OldLimit           string          `json:"old_limit"`
		MaxDaily           json.RawMessage `json:"max_daily_conversations_per_business"`
	}
)

// account_update events and ban states zapbase acts on.
const (
	eventDisabledUpdate     = "DISABLED_UPDATE"
	eventAccountRestriction = "ACCOUNT_RESTRICTION"
	eventAccountViolation   = "ACCOUNT_VIOLATION"
	eventAccountDeleted     = "ACCOUNT_DELETED"
	eventPartnerUninstalled = "PARTNER_APP_UNINSTALLED"
	eventPartnerRemoved     = "PARTNER_REMOVED"
	banDisable              = "DISABLE"
	banScheduleForDisable   = "SCHEDULE_FOR_DISABLE"
	banReinstate            = "REINSTATE"
)

// restrictionNames describes Meta's restriction types (pt-BR); messaging
// restrictions stop sends, the others do not.
var restrictionNames = map[string]struct {
	text      string
	messaging bool
}{
	"RESTRICTED_BIZ_INITIATED_MESSAGING":      {"iniciar conversas com clientes", true},
	"RESTRICTED_CUSTOMER_INITIATED_MESSAGING": {"responder conversas iniciadas por clientes", true},
	"RESTRICTED_ADD_PHONE_NUMBER_ACTION":      {"adicionar números à conta", false},
}

// applyAccountUpdate maps an account_update to the state of every session
// whose number belongs to the WABA:
//
//   - DISABLED_UPDATE with ban_info.waba_ban_state DISABLE → banned;
//     REINSTATE → banned sessions are verified again (connected when the
//     Graph API answers); SCHEDULE_FOR_DISABLE → logged (still sending).
//   - ACCOUNT_RESTRICTION with a messaging restriction → blocked until the
//     latest expiration (sends resume by themselves after it); only
//     non-messaging restrictions → logged.
//   - ACCOUNT_DELETED → logged_out.
//   - PARTNER_APP_UNINSTALLED / PARTNER_REMOVED (the WABA was unshared
//     with our app) → auth_lost: the token no longer reaches the WABA.
//     These events (and PARTNER_APP_INSTALLED, PARTNER_ADDED,
//     AD_ACCOUNT_LINKED, MM_LITE_TERMS_SIGNED) name the WABA in
//     value.waba_info.waba_id; entry.id is then the business portfolio.
//   - ACCOUNT_VIOLATION (a warning: enforcement comes as one of the above)
//     and every other event → logged and acknowledged.
func (p *Provider) applyAccountUpdate(ctx context.Context, entryID string, raw json.RawMessage) error {
	var u accountUpdate
	if err := json.Unmarshal(raw, &u); err != nil {
		p.log.Error("meta account_update is malformed, skipped", "entry_id", entryID, "error", err)
		return nil
	}
	wabaID := entryID
	if u.WABAInfo != nil && u.WABAInfo.WABAID != "" {
		wabaID = u.WABAInfo.WABAID
	}
	sessions, err := p.store.sessionsByWABA(ctx, wabaID)
	if err != nil {
		return err
	}
	if len(sessions) == 0 {
		p.log.Warn("meta account_update for a WABA with no session, skipped", "waba_id", wabaID, "event", u.Event)
		return nil
	}
	var st *providers.SessionState
	reinstate := false
	switch u.Event {
	case eventDisabledUpdate:
		if u.BanInfo == nil {
			p.log.Warn("meta account_update DISABLED_UPDATE without ban_info, skipped", "waba_id", wabaID)
			return nil
		}
		switch u.BanInfo.State {
		case banDisable:
			reason := "A Meta desativou a conta do WhatsApp Business (WABA) deste número por violação das políticas ou dos termos do WhatsApp"
			if d := strings.TrimSpace(u.BanInfo.Date); d != "" {
				reason += " (data informada pela Meta: " + d + ")"
			}
			reason += ". Os envios estão suspensos; peça uma revisão no Gerenciador do WhatsApp."
			st = &providers.SessionState{State: providers.StateBanned, Reason: reason}
		case banReinstate:
			reinstate = true
		case banScheduleForDisable:
			p.log.Warn("meta WABA scheduled to be disabled", "waba_id", wabaID, "ban_date", u.BanInfo.Date, "sessions", len(sessions))
			return nil
		default:
			p.log.Warn("meta account_update with an unknown ban state, acknowledged", "waba_id", wabaID, "ban_state", u.BanInfo.State)
			return nil
		}
	case eventAccountRestriction:
		st = p.restrictionState(wabaID, u)
		if st == nil {
			return nil
		}
	case eventAccountDeleted:
		st = &providers.SessionState{State: providers.StateLoggedOut,
			Reason: "A conta do WhatsApp Business (WABA) deste número foi excluída na Meta. Configure a sessão de novo com uma conta ativa."}
	case eventPartnerUninstalled, eventPartnerRemoved:
		st = &providers.SessionState{State: providers.StateAuthLost,
			Reason: "A conta do WhatsApp Business (WABA) deste número deixou de ser compartilhada com o app na Meta (" + u.Event +
				"): o token não tem mais acesso. Compartilhe a WABA de novo e reconfigure a sessão com um token válido."}
	case eventAccountViolation:
		vt := ""
		if u.ViolationInfo != nil {
			vt = u.ViolationInfo.Type
		}
		p.log.Warn("meta WABA policy violation reported", "waba_id", wabaID, "violation_type", vt, "sessions", len(sessions))
		return nil
	default:
		p.log.Info("meta account_update acknowledged", "waba_id", wabaID, "event", u.Event)
		return nil
	}

	for _, s := range sessions {
		if reinstate {
			if s.State != providers.StateBanned {
				continue
			}
			p.log.Info("meta WABA reinstated, verifying the number again", "tenant_id", s.TenantID, "session_id", s.SessionID, "waba_id", wabaID)
			p.mu.Lock()
			p.startVerifyLocked(s.SessionID)
			p.mu.Unlock()
			continue
		}
		// A verification still running must not overwrite the new state.
		p.mu.Lock()
		if job, ok := p.verifies[s.SessionID]; ok {
			job.cancel()
		}
		p.mu.Unlock()
		if err := p.events.SessionState(ctx, s.SessionID, *st); err != nil {
			return err
		}
		p.log.Warn("meta session stopped by account_update", "tenant_id", s.TenantID, "session_id", s.SessionID,
			"waba_id", wabaID, "event", u.Event, "state", st.State)
	}
	return nil
}

// restrictionState maps ACCOUNT_RESTRICTION: blocked until the latest
// expiration of its messaging restrictions; nil when none stops sends.
func (p *Provider) restrictionState(wabaID string, u accountUpdate) *providers.SessionState {
	var what []string
	var until *time.Time
	messaging := false
	for _, r := range u.RestrictionInfo {
		name, known := restrictionNames[r.Type]
		if !known {
			p.log.Warn("meta restriction of an unknown type", "waba_id", wabaID, "restriction_type", r.Type)
			continue
		}
		if !name.messaging {
			p.log.Warn("meta WABA restricted (sends unaffected)", "waba_id", wabaID, "restriction_type", r.Type)
			continue
		}
		messaging = true
		what = append(what, name.text)
		if t, ok := parseExpiration(r.Expiration); ok && (until == nil || t.After(*until)) {
			until = &t
		}
	}
	if !messaging {
		return nil
	}
	reason := "A Meta restringiu a conta do WhatsApp Business (WABA) deste número: não é possível " +
		strings.Join(what, " nem ") + "."
	if until != nil {
		reason += " Os envios ficam suspensos até " + until.UTC().Format("02/01/2006 15:04") + " (UTC)."
	} else {
		reason += " Os envios ficam suspensos até a Meta retirar a restrição."
	}
	return &providers.SessionState{State: providers.StateBlocked, Reason: reason, Until: until}
}

// parseExpiration reads Unix seconds (number or string) or a timestamp
// ("2026-04-19T13:59:20+0000", RFC 3339).
func parseExpiration(raw json.RawMessage) (time.Time, bool) {
	s := strings.Trim(strings.TrimSpace(string(raw)), `"`)
	if s == "" || s == "null" {
		return time.Time{}, false
	}
	if n, err := strconv.ParseInt(s, 10, 64); err == nil && n > 0 {
		return time.Unix(n, 0).UTC(), true
	}
	for _, layout := range []string{"2006-01-02T15:04:05-0700", time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), true
		}
	}
	return time.Time{}, false
}

// applyQualityUpdate records a phone_number_quality_update (messaging limit
// or throughput change) in the matching session's session_data.metaQuality
// so the frontend can show it; it does not change the session state.
func (p *Provider) applyQualityUpdate(ctx context.Context, wabaID string, raw json.RawMessage) error {
	var q qualityUpdate
	if err := json.Unmarshal(raw, &q); err != nil {
		p.log.Error("meta phone_number_quality_update is malformed, skipped", "waba_id", wabaID, "error", err)
		return nil
	}
	sessions, err := p.store.sessionsByWABA(ctx, wabaID)
	if err != nil {
		return err
	}
	number := digitsOnly(q.DisplayPhoneNumber)
	rec := map[string]any{"event": q.Event, "receivedAt": p.now().UTC().Format(time.RFC3339)}
	if q.CurrentLimit != "" {
		rec["currentLimit"] = q.CurrentLimit
	}
	if q.OldLimit != "" {
		rec["oldLimit"] = q.OldLimit
	}
	if s := strings.Trim(strings.TrimSpace(string(q.MaxDaily)), `"`); s != "" && s != "null" {
		rec["maxDailyConversations"] = s
	}
	matched := 0
	for _, s := range sessions {
		if number == "" || s.PhoneNumber != number {
			continue
		}
		matched++
		if err := p.store.recordQuality(ctx, s.SessionID, rec); err != nil {
			return err
		}
		p.log.Info("meta phone number quality update", "tenant_id", s.TenantID, "session_id", s.SessionID,
			"event", q.Event, "current_limit", q.CurrentLimit)
	}
	if matched == 0 {
		p.log.Warn("meta phone_number_quality_update for an unknown number, skipped", "waba_id", wabaID, "event", q.Event)
	}
	return nil
}

func digitsOnly(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r >= '0' && r <= '9' {
			b.WriteRune(r)
		}
	}
	return b.String()
}
