package whatsmeow

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestPhoneCandidatesBrazilNinthDigit(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in string
		want     []string
		mobile   bool
	}{
		{"São Paulo mobile with 9", "+55 (11) 98765-4321", []string{"5511987654321", "551187654321"}, true},
		{"São Paulo mobile without 9", "55 11 8765-4321", []string{"551187654321", "5511987654321"}, true},
		{"Rio mobile with 9, dashes", "55-21-99876-5432", []string{"5521998765432", "552198765432"}, true},
		{"Salvador mobile without 9", "+557188776655", []string{"557188776655", "5571988776655"}, true},
		{"Porto Alegre mobile with 9", "+55 51 9 9123 4567", []string{"5551991234567", "555191234567"}, true},
		{"Manaus mobile 7 prefix without 9", "(55) 92 7123-4567", []string{"559271234567", "5592971234567"}, true},
		{"São Paulo landline", "+55 11 3456-7890", []string{"551134567890"}, false},
		{"Brasília landline", "55 (61) 2345-6789", []string{"556123456789"}, false},
		{"Belo Horizonte landline 5", "+553155554444", []string{"553155554444"}, false},
		{"not a DDD (20)", "+55 20 98765-4321", []string{"5520987654321"}, false},
		{"Portugal", "+351 912 345 678", []string{"351912345678"}, false},
		{"USA", "+1 (415) 555-2671", []string{"14155552671"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			j, err := parseRecipient(tc.in)
			require.NoError(t, err)
			got, mobile := phoneCandidates(j.User)
			require.Equal(t, tc.want, got)
			require.Equal(t, tc.mobile, mobile)
		})
	}
}
