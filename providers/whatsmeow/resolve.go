package whatsmeow

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.mau.fi/whatsmeow/types"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/store"
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
	c, ok, err := p.cfg.DB.CachedResolution(ctx, s.tenantID, s.id, number)
	if err != nil || !ok {
		return r, false, err
	}
	r.OnWhatsApp, r.JID = c.OnWhatsApp, c.JID
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
	return p.cfg.DB.SaveResolution(ctx, store.SaveResolutionParams{TenantID: s.tenantID, SessionID: s.id,
		Number: r.Number, OnWhatsApp: r.OnWhatsApp, JID: r.JID, TTL: ttl})
}

// recordSentTo keeps the JID a message to number actually went to
// (SendResponse.Chat: whatsmeow replaces a phone number by its LID).
func (p *Provider) recordSentTo(ctx context.Context, s *session, number string, sentTo types.JID) {
	if number == "" || sentTo.IsEmpty() {
		return
	}
	if err := p.cfg.DB.RecordSentTo(ctx, s.tenantID, s.id, number, sentTo.String()); err != nil {
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
