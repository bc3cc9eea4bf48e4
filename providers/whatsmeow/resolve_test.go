package whatsmeow

import (
	"context"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow/types"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
)

func TestSendResolvesBrazilNinthDigitOncePerSession(t *testing.T) {
	t.Parallel()
	f, p, c, _, id := connectedSession(t)
	ctx := context.Background()
	c.mu.Lock()
	// An old account: WhatsApp knows the eight-digit form only.
	c.known = map[string]bool{"552187654321": true}
	c.mu.Unlock()
	send := func(to string) (providers.SendResult, error) {
		return p.Send(ctx, providers.OutboundMessage{TenantID: f.tenant, SessionID: id, To: to,
			Type: zapbase.MessageText, Content: providers.Content{Text: "oi"}, ProviderMessageID: p.NewMessageID()})
	}

	res, err := send("+55 (21) 98765-4321")
	require.NoError(t, err)
	c.mu.Lock()
	require.Equal(t, [][]string{{"+5521987654321", "+552187654321"}}, c.checks)
	require.Equal(t, types.NewJID("552187654321", types.DefaultUserServer), c.sent[len(c.sent)-1].To)
	c.mu.Unlock()
	// SendResponse.Chat: the JID the message actually went to.
	require.Equal(t, "1552187654321@lid", res.RecipientID)
	var onWA bool
	var jid, sentTo string
	require.NoError(t, f.pool.QueryRow(ctx, `SELECT on_whatsapp, jid, sent_to FROM wa.recipient_resolutions
 WHERE tenant_id = $1 AND session_id = $2 AND number = '5521987654321' AND expires_at > now()`, f.tenant, id).Scan(&onWA, &jid, &sentTo))
	require.True(t, onWA)
	require.Equal(t, "552187654321@s.whatsapp.net", jid)
	require.Equal(t, "1552187654321@lid", sentTo)

	// The second send uses the cache: no new query.
	_, err = send("5521987654321")
	require.NoError(t, err)
	c.mu.Lock()
	require.Len(t, c.checks, 1)
	c.mu.Unlock()

	// A number without an account fails with a clear code, nothing sent.
	c.mu.Lock()
	sent := len(c.sent)
	c.mu.Unlock()
	_, err = send("+55 11 91234-0000")
	var perm *providers.PermanentError
	require.True(t, errors.As(err, &perm))
	require.Equal(t, string(zapbase.CodeNotOnWhatsApp), perm.Code)
	require.Contains(t, perm.Reason, "não tem conta no WhatsApp")
	c.mu.Lock()
	require.Len(t, c.sent, sent)
	c.mu.Unlock()

	// An expired answer is asked again.
	_, err = f.pool.Exec(ctx, `UPDATE wa.recipient_resolutions SET expires_at = now() - interval '1 second' WHERE session_id = $1`, id)
	require.NoError(t, err)
	_, err = send("5521987654321")
	require.NoError(t, err)
	c.mu.Lock()
	require.Len(t, c.checks, 3)
	c.mu.Unlock()

	// A landline is asked in one form; a JID is never resolved.
	_, err = send("+55 11 3456-7890")
	require.Error(t, err)
	c.mu.Lock()
	require.Equal(t, []string{"+551134567890"}, c.checks[len(c.checks)-1])
	checks := len(c.checks)
	c.mu.Unlock()
	_, err = send("5511999990000@s.whatsapp.net")
	require.NoError(t, err)
	c.mu.Lock()
	require.Len(t, c.checks, checks)
	c.mu.Unlock()
}

func TestCheckNumbers(t *testing.T) {
	t.Parallel()
	_, p, c, _, id := connectedSession(t)
	c.mu.Lock()
	c.known = map[string]bool{"5511987654321": true, "551134567890": true}
	c.mu.Unlock()
	got, err := p.CheckNumbers(context.Background(), id, []string{"+55 11 8765-4321", "(55) 11 3456-7890", "+55 11 91111-0000", "abc"})
	require.NoError(t, err)
	require.Equal(t, []providers.NumberCheck{
		{Input: "+55 11 8765-4321", Valid: true, Number: "551187654321", OnWhatsApp: true, WhatsAppNumber: "5511987654321", JID: "5511987654321@s.whatsapp.net"},
		{Input: "(55) 11 3456-7890", Valid: true, Number: "551134567890", OnWhatsApp: true, WhatsAppNumber: "551134567890", JID: "551134567890@s.whatsapp.net"},
		{Input: "+55 11 91111-0000", Valid: true, Number: "5511911110000"},
		{Input: "abc"},
	}, got)
	again, err := p.CheckNumbers(context.Background(), id, []string{"551187654321"})
	require.NoError(t, err)
	require.True(t, again[0].Cached)
	require.Equal(t, "5511987654321", again[0].WhatsAppNumber)
}
