package media

import (
	"context"
	"io"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	png := append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 16)...)
	cases := []struct {
		typ      zapbase.MessageType
		declared string
		data     []byte
		mime     string
		code     zapbase.Code
	}{
		{zapbase.MessageImage, "", png, "image/png", ""},
		{zapbase.MessageImage, "image/jpeg; charset=x", []byte("x"), "image/jpeg", ""},
		{zapbase.MessageImage, "", []byte("%PDF-1.4"), "", CodeUnsupportedType},
		{zapbase.MessageImage, "", make([]byte, MaxImageBytes+1), "", CodeTooLarge},
		{zapbase.MessageSticker, "image/png", png, "", CodeUnsupportedType},
		{zapbase.MessageVoice, "", append([]byte("OggS"), make([]byte, 40)...), "audio/ogg", ""},
		{zapbase.MessageDocument, "application/pdf", []byte("%PDF-1.4"), "application/pdf", ""},
		{zapbase.MessageDocument, "", nil, "", CodeEmpty},
		{zapbase.MessageText, "", []byte("x"), "", zapbase.CodeInvalidInput},
	}
	for _, c := range cases {
		mt, err := Check(c.typ, c.declared, c.data)
		if c.code != "" {
			require.Equal(t, c.code, zapbase.ErrorCode(err), "%s %q", c.typ, c.declared)
			continue
		}
		require.NoError(t, err, "%s %q", c.typ, c.declared)
		require.Equal(t, c.mime, mt)
	}
}

func TestLocalStore(t *testing.T) {
	t.Parallel()
	l := &Local{Dir: t.TempDir()}
	obj, err := l.Put(context.Background(), "acme", "foto.PNG", "image/png", []byte("data"))
	require.NoError(t, err)
	require.Regexp(t, `^acme/\d{4}/\d{2}/[0-9a-f-]{36}\.png$`, obj.Path)
	rc, err := l.Open(context.Background(), obj.Path)
	require.NoError(t, err)
	b, _ := io.ReadAll(rc)
	rc.Close()
	require.Equal(t, "data", string(b))
	_, err = l.Open(context.Background(), "../etc/passwd")
	require.Error(t, err)
}
