package sandbox

import (
	"context"
	"strings"
	"time"

	"github.com/zapbase/zapbase/providers"
)

var _ providers.NumberChecker = (*Provider)(nil)

// CheckNumbers implements providers.NumberChecker offline: every valid
// number is on WhatsApp except those ending in 0000, so `zapbase dev` can
// exercise POST /api/v1/contacts/check and the not-on-WhatsApp answer.
func (p *Provider) CheckNumbers(ctx context.Context, sessionID string, numbers []string) ([]providers.NumberCheck, error) {
	out := make([]providers.NumberCheck, len(numbers))
	for i, n := range numbers {
		out[i].Input = n
		digits := strings.Map(func(r rune) rune {
			switch {
			case r >= '0' && r <= '9':
				return r
			case r == '+' || r == ' ' || r == '-' || r == '(' || r == ')' || r == '.':
				return -1
			}
			return 'x'
		}, n)
		if strings.ContainsRune(digits, 'x') || len(digits) < 8 || len(digits) > 15 || digits[0] == '0' {
			continue
		}
		out[i].Valid, out[i].Number = true, digits
		if !strings.HasSuffix(digits, "0000") {
			out[i].OnWhatsApp, out[i].WhatsAppNumber, out[i].JID = true, digits, digits+"@s.whatsapp.net"
		}
	}
	return out, nil
}

var (
	_ providers.MessageEditor  = (*Provider)(nil)
	_ providers.MessageRevoker = (*Provider)(nil)
)

// EditMessage implements providers.MessageEditor: the simulated phone
// accepts every edit of a sent text (the API updates the row).
func (p *Provider) EditMessage(ctx context.Context, ep providers.EditParams) (providers.SendResult, error) {
	if strings.TrimSpace(ep.Text) == "" {
		return providers.SendResult{}, &providers.PermanentError{Code: "invalid_content", Reason: "Texto da edição vazio.", Err: providers.ErrUnsupported}
	}
	return providers.SendResult{ProviderMessageID: ep.ProviderMessageID, Timestamp: time.Now()}, nil
}

// RevokeMessage implements providers.MessageRevoker: the simulated phone
// accepts every deletion for everyone.
func (p *Provider) RevokeMessage(ctx context.Context, rp providers.RevokeParams) error { return nil }
