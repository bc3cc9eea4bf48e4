package zapbase_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase"
)

func TestCheckRecipient(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, to string
		ok       bool
	}{
		{"Brazil mobile, São Paulo", "5511988887777", true},
		{"Brazil mobile without the ninth digit (old WhatsApp ids)", "551188887777", true},
		{"Brazil landline", "551133334444", true},
		{"Brazil DDD 99 (Maranhão)", "5599988887777", true},
		{"Brazil DDD 20 does not exist", "5520988887777", false},
		{"Brazil DDD 00", "5500988887777", false},
		{"Brazil 9 digits not starting with 9", "5511888887777", false},
		{"Brazil 8 digits starting with 1", "551118887777", false},
		{"Brazil too short", "55119888877", false},
		{"Brazil too long", "55119888877771", false},
		{"all zeros", "00000000000", false},
		{"all zeros, 15 digits", "000000000000000", false},
		{"leading zero", "05511988887777", false},
		{"national part all zeros", "4400000000", false},
		{"unknown country code 999", "99912345678", false},
		{"unknown country code 28x", "2851234567", false},
		{"United Kingdom", "447911123456", true},
		{"Portugal", "351912345678", true},
		{"Germany", "4915123456789", true},
		{"India", "919876543210", true},
		{"Kazakhstan (+7)", "77011234567", true},
		{"Uzbekistan", "998901234567", true},
		{"USA", "14155552671", true},
		{"USA area code starting with 1", "11155552671", false},
		{"USA exchange starting with 0", "14150552671", false},
		{"USA too short", "1415555267", false},
		{"7 digits is below the bound", "6831234", false},
		{"16 digits", "4915123456789012", false},
		{"plus sign is stripped before storage", "+5511988887777", false},
		{"letters", "55119888a7777", false},
		{"empty", "", false},
		{"user JID", "5511988887777@s.whatsapp.net", true},
		{"user JID with device", "5511988887777:12@s.whatsapp.net", true},
		{"legacy user JID", "5511988887777@c.us", true},
		{"user JID with impossible number", "00000000000@s.whatsapp.net", false},
		{"group JID", "120363025246125486@g.us", true},
		{"old group JID", "5511988887777-1600000000@g.us", true},
		{"LID", "123456789012345@lid", true},
		{"newsletter", "120363144038483540@newsletter", true},
		{"status broadcast", "status@broadcast", true},
		{"unknown server", "5511988887777@example.com", false},
		{"empty group user", "@g.us", false},
		{"Meta BSUID", "BR.ABCdef123", true},
		{"lower-case BSUID prefix", "br.ABCdef123", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := zapbase.CheckRecipient(tc.to)
			if tc.ok {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			var ze *zapbase.Error
			require.True(t, errors.As(err, &ze))
			require.Equal(t, zapbase.CodeInvalidRecipient, ze.Code)
			require.NotEmpty(t, ze.Message)
		})
	}
}

func TestCountryCodesArePrefixFree(t *testing.T) {
	t.Parallel()
	codes := zapbase.CountryCodes()
	require.Len(t, codes, 215)
	for _, a := range codes {
		for _, b := range codes {
			if a != b {
				require.False(t, len(a) < len(b) && b[:len(a)] == a, "%s is a prefix of %s", a, b)
			}
		}
	}
}
