package sandbox

import (
	"context"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/providers"
)

func TestCheckNumbers(t *testing.T) {
	p := &Provider{}
	got, err := p.CheckNumbers(context.Background(), "s", []string{"+55 (11) 98765-4321", "5511912340000", "abc"})
	require.NoError(t, err)
	require.Equal(t, []providers.NumberCheck{
		{Input: "+55 (11) 98765-4321", Valid: true, Number: "5511987654321", OnWhatsApp: true, WhatsAppNumber: "5511987654321", JID: "5511987654321@s.whatsapp.net"},
		{Input: "5511912340000", Valid: true, Number: "5511912340000"},
		{Input: "abc"},
	}, got)
}

func TestEditAndRevoke(t *testing.T) {
	p := &Provider{}
	res, err := p.EditMessage(context.Background(), providers.EditParams{ProviderMessageID: "sb-1", Text: "novo"})
	require.NoError(t, err)
	require.Equal(t, "sb-1", res.ProviderMessageID)
	_, err = p.EditMessage(context.Background(), providers.EditParams{ProviderMessageID: "sb-1", Text: " "})
	require.Error(t, err)
	require.NoError(t, p.RevokeMessage(context.Background(), providers.RevokeParams{ProviderMessageID: "sb-1"}))
}
