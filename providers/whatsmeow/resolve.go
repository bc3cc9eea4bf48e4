package whatsmeow

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"go.mau.fi/whatsmeow/types"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
)

// How long IsOnWhatsApp answers are trusted. A number that is not on
// WhatsApp may join any day, so that answer expires sooner.
const (
	ResolutionTTL         = 7 * 24 * time.Hour
	NegativeResolutionTTL = 24 * time.Hour
)

// MaxCheckNumbers bounds one IsOnWhatsApp batch (CheckNumbers).
const MaxCheckNumbers = 50

// Resolution is what WhatsApp knows of a phone number.
type Resolution struct {
	// Number is the international digits as asked.
	Number string
	// OnWhatsApp reports whether some form of the number has an account.
	OnWhatsApp bool
	// JID is the account's phone-number JID (…@s.whatsapp.net), which for a
	// Brazilian mobile may be the other form of the ninth digit.
	JID string
	// PhoneNumber is the digits of JID ("" when not on WhatsApp).
	PhoneNumber string
	// Cached reports that the answer came from wa.recipient_resolutions.
	Cached bool
}

// resolveRecipient maps a phone-number JID to the JID WhatsApp knows: from
// the session's cache, else by asking IsOnWhatsApp for every form of the
// number (Brazil's ninth digit). A number without an account is a permanent
// error (code not_on_whatsapp): the message must fail, never vanish.
func (p *Provider) resolveRecipient(ctx context.Context, s *session, c Client, to types.JID) (types.JID, error) {
	if to.Server != types.DefaultUserServer {
		return to, nil
	}
	res, err := p.resolveNumbers(ctx, s, c, []string{to.User})
	if err != nil {
		return types.EmptyJID, err
	}
	r := res[0]
	if !r.OnWhatsApp {
		return types.EmptyJID, &providers.PermanentError{Code: string(zapbase.CodeNotOnWhatsApp),
			Reason: fmt.Sprintf("O número %s não tem conta no WhatsApp (conferido com e sem o nono dígito, quando é celular brasileiro); a mensagem não foi enviada.", to.User),
			Err:    fmt.Errorf("resolve %s: not on whatsapp", to.User)}
	}
	j, err := types.ParseJID(r.JID)
	if err != nil {
		return types.EmptyJID, &providers.RetryableError{Err: fmt.Errorf("resolve %s: bad cached jid %q: %w", to.User, r.JID, err)}
	}
	return j, nil
}

// resolveNumbers answers a resolution per number (in order), asking
// WhatsApp once for every number the cache does not know.
func (p *Provider) resolveNumbers(ctx context.Context, s *session, c Client, numbers []string) ([]Resolution, error) {
	out := make([]Resolution, len(numbers))
	var missing []int
	for i, n := range numbers {
		r, ok, err := p.cachedResolution(ctx, s, n)
		if err != nil {
			return nil, &providers.RetryableError{Err: err}
		}
		if ok {
			out[i] = r
			continue
		}
		missing = append(missing, i)
	}
	if len(missing) == 0 {
		return out, nil
	}
	var query []string
	seen := map[string]bool{}
	for _, i := range missing {
		cands, _ := phoneCandidates(numbers[i])
		for _, cand := range cands {
			if !seen[cand] {
				seen[cand] = true
				query = append(query, "+"+cand)
			}
		}
	}
	answers, err := c.IsOnWhatsApp(ctx, query)
	if err != nil {
		return nil, classifySendError(fmt.Errorf("is on whatsapp: %w", err), nil)
	}
	known := map[string]types.JID{}
	for _, a := range answers {
		if !a.IsIn {
			continue
		}
		pn := a.PhoneNumber
		if pn.Server != types.DefaultUserServer {
			pn = a.JID
		}
		if pn.Server != types.DefaultUserServer || pn.User == "" {
			continue
		}
		known[strings.TrimPrefix(a.Query, "+")] = pn.ToNonAD()
	}
	for _, i := range missing {
		n := numbers[i]
		r := Resolution{Number: n}
		cands, _ := phoneCandidates(n)
		for _, cand := range cands {
			if j, ok := known[cand]; ok {
				r.OnWhatsApp, r.JID, r.PhoneNumber = true, j.String(), j.User
				break
			}
		}
		if err := p.storeResolution(ctx, s, r); err != nil {
			s.log.Warn("cache number resolution", "error", err)
		}
		out[i] = r
	}
	return out, nil
}

func (p *Provider) cachedResolution(ctx context.Context, s *session, number string) (Resolution, bool, error) {
	r := Resolution{Number: number, Cached: true}
	var jid *string
	err := p.cfg.Pool.QueryRow(ctx, `
SELECT on_whatsapp, jid FROM wa.recipient_resolutions
 WHERE tenant_id = $1 AND session_id = $2 AND number = $3 AND expires_at > now()`, s.tenantID, s.id, number).
		Scan(&r.OnWhatsApp, &jid)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("lookup number resolution: %w", err)
	}
	r.JID = deref(jid)
	if j, err := types.ParseJID(r.JID); err == nil {
		r.PhoneNumber = j.User
	}
	return r, true, nil
}

func (p *Provider) storeResolution(ctx context.Context, s *session, r Resolution) error {
	ttl := ResolutionTTL
	if !r.OnWhatsApp {
		ttl = NegativeResolutionTTL
	}
	_, err := p.cfg.Pool.Exec(ctx, `
INSERT INTO wa.recipient_resolutions (tenant_id, session_id, number, on_whatsapp, jid, resolved_at, expires_at)
VALUES ($1, $2, $3, $4, nullif($5, ''), now(), now() + $6::interval)
ON CONFLICT (tenant_id, session_id, number) DO UPDATE
   SET on_whatsapp = excluded.on_whatsapp, jid = excluded.jid,
       resolved_at = excluded.resolved_at, expires_at = excluded.expires_at`,
		s.tenantID, s.id, r.Number, r.OnWhatsApp, r.JID, ttl.String())
	if err != nil {
		return fmt.Errorf("store number resolution %s: %w", r.Number, err)
	}
	return nil
}

// recordSentTo keeps the JID a message to number actually went to
// (SendResponse.Chat: whatsmeow replaces a phone number by its LID).
func (p *Provider) recordSentTo(ctx context.Context, s *session, number string, sentTo types.JID) {
	if number == "" || sentTo.IsEmpty() {
		return
	}
	if _, err := p.cfg.Pool.Exec(ctx, `
UPDATE wa.recipient_resolutions SET sent_to = $4
 WHERE tenant_id = $1 AND session_id = $2 AND number = $3 AND sent_to IS DISTINCT FROM $4`,
		s.tenantID, s.id, number, sentTo.String()); err != nil {
		s.log.Warn("record sent-to jid", "error", err)
	}
}

// CheckNumbers implements providers.NumberChecker: which of numbers have a
// WhatsApp account, and under which number (Brazil's ninth digit).
func (p *Provider) CheckNumbers(ctx context.Context, sessionID string, numbers []string) ([]providers.NumberCheck, error) {
	s, c, err := p.usableSession(sessionID)
	if err != nil {
		return nil, err
	}
	out := make([]providers.NumberCheck, len(numbers))
	var ask []string
	var at []int
	for i, n := range numbers {
		out[i].Input = n
		j, err := parseRecipient(n)
		if err != nil || j.Server != types.DefaultUserServer {
			out[i].Valid = false
			continue
		}
		out[i].Valid = true
		ask = append(ask, j.User)
		at = append(at, i)
	}
	for start := 0; start < len(ask); start += MaxCheckNumbers {
		end := min(start+MaxCheckNumbers, len(ask))
		res, err := p.resolveNumbers(ctx, s, c, ask[start:end])
		if err != nil {
			return nil, err
		}
		for k, r := range res {
			o := &out[at[start+k]]
			o.Number, o.OnWhatsApp, o.WhatsAppNumber, o.JID, o.Cached = r.Number, r.OnWhatsApp, r.PhoneNumber, r.JID, r.Cached
		}
	}
	return out, nil
}
