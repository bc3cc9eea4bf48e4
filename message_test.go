package zapbase

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCanTransition(t *testing.T) {
	t.Parallel()
	allowed := map[[2]Status]bool{
		{StatusPending, StatusSending}:   true,
		{StatusPending, StatusFailed}:    true,
		{StatusSending, StatusPending}:   true,
		{StatusSending, StatusSent}:      true,
		{StatusSending, StatusDelivered}: true,
		{StatusSending, StatusRead}:      true,
		{StatusSending, StatusPlayed}:    true,
		{StatusSending, StatusFailed}:    true,
		{StatusSent, StatusDelivered}:    true,
		{StatusSent, StatusRead}:         true,
		{StatusSent, StatusPlayed}:       true,
		{StatusSent, StatusFailed}:       true,
		{StatusDelivered, StatusRead}:    true,
		{StatusDelivered, StatusPlayed}:  true,
		{StatusRead, StatusPlayed}:       true,
		{StatusReceived, StatusRead}:     true,
	}
	for _, from := range Statuses {
		for _, to := range Statuses {
			want := allowed[[2]Status{from, to}]
			require.Equal(t, want, CanTransition(from, to), "%s → %s", from, to)
		}
	}
}

func TestValidClientID(t *testing.T) {
	t.Parallel()
	for s, want := range map[string]bool{"demo": true, "acme-imoveis_2": true, "a": false, "Demo": false, "-x": false, "x y": false} {
		require.Equal(t, want, ValidClientID(s), s)
	}
}
