package migrations_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/supabase/devdb/devdbtest"
)

// recipientCorpus covers every 1-3 digit prefix at every length around the
// bounds, every Brazilian DDD with each subscriber shape, the North American
// plan's edges and the JID/BSUID forms.
func recipientCorpus() []string {
	var out []string
	fillers := []string{"988877776655443", "000000000000000", "100000000000000", "234567890123456"}
	for p := 0; p < 1000; p++ {
		for _, prefix := range []string{fmt.Sprint(p), fmt.Sprintf("%02d", p%100), fmt.Sprintf("%03d", p)} {
			for n := 6; n <= 16; n++ {
				for _, f := range fillers {
					if n > len(prefix) {
						out = append(out, prefix+f[:n-len(prefix)])
					}
				}
			}
		}
	}
	for ddd := 0; ddd < 100; ddd++ {
		for _, sub := range []string{"988887777", "888887777", "188887777", "88887777", "28887777", "18887777", "08887777", "9888877", "9888877771"} {
			out = append(out, fmt.Sprintf("55%02d%s", ddd, sub))
		}
	}
	for _, n := range []string{"14155552671", "11155552671", "10155552671", "14150552671", "14151552671", "1415555267", "141555526711"} {
		out = append(out, n)
	}
	base := []string{"5511988887777", "00000000000", "5520988887777", "4915123456789"}
	for _, b := range base {
		out = append(out, b+"@s.whatsapp.net", b+":12@s.whatsapp.net", b+":1234@s.whatsapp.net", b+":@s.whatsapp.net",
			b+"@c.us", b+"@g.us", b+"-1600000000@g.us", b+"@lid", b+"@newsletter", b+"@example.com", "+"+b, b+" ")
	}
	out = append(out, "", "@g.us", "status@broadcast", "a@b@g.us", strings.Repeat("x", 81)+"@g.us", strings.Repeat("x", 80)+"@g.us",
		"BR.ABCdef123", "br.ABCdef123", "BR.", "BR."+strings.Repeat("a", 160), "BR."+strings.Repeat("a", 161), "BR.ab_c",
		"abc@s.whatsapp.net", "5511988887777@S.WHATSAPP.NET", "55119888877７7")
	return out
}

// TestRecipientSQLMatchesGo: wa_rls.valid_recipient (the insert policy's
// check) and zapbase.CheckRecipient (the API's and the dispatcher's) agree.
func TestRecipientSQLMatchesGo(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, devdbtest.NewDatabase(t))
	require.NoError(t, err)
	defer conn.Close(ctx)
	corpus := recipientCorpus()
	var got []bool
	require.NoError(t, conn.QueryRow(ctx, `SELECT array_agg(wa_rls.valid_recipient(r) ORDER BY i)
  FROM unnest($1::text[]) WITH ORDINALITY AS x(r, i)`, corpus).Scan(&got))
	require.Len(t, got, len(corpus))
	valid := 0
	for i, r := range corpus {
		want := zapbase.CheckRecipient(r) == nil
		if want {
			valid++
		}
		require.Equal(t, want, got[i], "recipient %q: Go says valid=%v, SQL %v", r, want, got[i])
	}
	// The corpus exercises both answers in quantity.
	require.Greater(t, valid, 1000)
	require.Greater(t, len(corpus)-valid, 1000)
}
