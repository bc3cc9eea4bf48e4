package zapbase

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestReasonCoversEveryCodeHumaProduces(t *testing.T) {
	for _, c := range []Code{CodeInvalidInput, CodeNotFound, CodeMethodNotAllowed,
		CodeNotAcceptable, CodeRequestTimeout, CodePayloadTooLarge, CodeUnsupportedContentType} {
		require.NotEqual(t, Reason(CodeInternal), Reason(c), "code %s has its own reason", c)
	}
	require.Equal(t, "Erro interno. Tente novamente mais tarde.", Reason("no_such_code"))
	require.Equal(t, Reason(CodeInternal), ErrorMessage(nil))
}
