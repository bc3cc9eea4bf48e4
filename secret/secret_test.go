package secret

import (
	"bytes"
	"encoding/base64"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestSealOpenRotate(t *testing.T) {
	t.Parallel()
	k1 := bytes.Repeat([]byte{1}, KeySize)
	k2 := bytes.Repeat([]byte{2}, KeySize)
	b1, err := NewBox(k1)
	require.NoError(t, err)
	id, sealed, err := b1.Seal([]byte("EAAG-token"), []byte("session-1"))
	require.NoError(t, err)
	require.NotContains(t, string(sealed), "EAAG-token")

	// Rotation: new active key, old one kept for opening.
	b2, err := NewBox(k2, k1)
	require.NoError(t, err)
	pt, err := b2.Open(id, sealed, []byte("session-1"))
	require.NoError(t, err)
	require.Equal(t, "EAAG-token", string(pt))
	require.NotEqual(t, id, b2.ActiveKeyID())

	_, err = b2.Open(id, sealed, []byte("session-2"))
	require.Error(t, err, "aad must bind the value to its row")
	b3, _ := NewBox(k2)
	_, err = b3.Open(id, sealed, []byte("session-1"))
	require.ErrorIs(t, err, ErrNoKey)
}

func TestParseKey(t *testing.T) {
	t.Parallel()
	k := bytes.Repeat([]byte{7}, KeySize)
	for _, s := range []string{base64.StdEncoding.EncodeToString(k), base64.RawURLEncoding.EncodeToString(k), "0707070707070707070707070707070707070707070707070707070707070707"} {
		got, err := ParseKey(s)
		require.NoError(t, err, s)
		require.Equal(t, k, got)
	}
	_, err := ParseKey("short")
	require.Error(t, err)
}
