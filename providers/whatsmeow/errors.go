package whatsmeow

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"go.mau.fi/whatsmeow"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
)

// Stable error codes for PermanentError.Code / AuthLostError.Code.
const (
	CodeInvalidRecipient = "invalid_recipient"
	CodeNotOnWhatsApp    = string(zapbase.CodeNotOnWhatsApp)
	CodeUnsupportedType  = "unsupported_message_type"
	CodeInvalidContent   = "invalid_content"
	CodeVoiceFormat      = "voice_format_unsupported"
	CodeMediaUnavailable = "media_unavailable"
	CodeMediaTooLarge    = "media_too_large"
	CodeLoggedOut        = "logged_out"
	CodeServerRejected   = "server_rejected" // + ":<code>"
)

// Server error codes WhatsApp answers to a send (node attribute "error").
const (
	serverErrTimelock     = 463 // reach-out timelock or missing privacy token
	serverErrNoLIDMapping = 479
	serverErrRateLimit    = 429
)

// classifySendError translates a whatsmeow send error into the providers'
// classified errors. This is the only place vendor errors are interpreted.
func classifySendError(err error, timelockUntil *time.Time) error {
	if err == nil {
		return nil
	}
	if isClassified(err) {
		return err
	}
	var disc *whatsmeow.DisconnectedError
	switch {
	case errors.Is(err, whatsmeow.ErrNotLoggedIn):
		return &providers.AuthLostError{Code: CodeLoggedOut, Reason: "O aparelho foi desconectado do WhatsApp; pareie a sessão novamente.", Err: err}
	case errors.Is(err, whatsmeow.ErrNotConnected), errors.As(err, &disc), errors.Is(err, whatsmeow.ErrIQDisconnected):
		return &providers.SessionUnavailableError{State: providers.StateDisconnected, Err: err}
	case errors.Is(err, whatsmeow.ErrMessageTimedOut), errors.Is(err, whatsmeow.ErrIQTimedOut),
		errors.Is(err, context.DeadlineExceeded):
		// The id was chosen by us: resending it is deduplicated by WhatsApp.
		return &providers.RetryableError{Err: err}
	case errors.Is(err, whatsmeow.ErrRecipientADJID), errors.Is(err, whatsmeow.ErrUnknownServer),
		errors.Is(err, whatsmeow.ErrBroadcastListUnsupported):
		return &providers.PermanentError{Code: CodeInvalidRecipient, Reason: "Destinatário inválido para o WhatsApp.", Err: err}
	case errors.Is(err, whatsmeow.ErrServerReturnedError):
		return classifyServerCode(serverCode(err), err, timelockUntil)
	case errors.Is(err, whatsmeow.ErrIQRateOverLimit):
		return &providers.RateLimitedError{Scope: providers.ScopeNumber, After: time.Minute, Code: "429", Err: err}
	case errors.Is(err, whatsmeow.ErrIQInternalServerError), errors.Is(err, whatsmeow.ErrIQServiceUnavailable),
		errors.Is(err, whatsmeow.ErrIQPartialServerError):
		return &providers.RetryableError{Err: err}
	}
	// whatsmeow formats this one without a sentinel (send.go: "no LID found
	// for %s from server"): the number has no WhatsApp account.
	if strings.Contains(err.Error(), "no LID found for") {
		return &providers.PermanentError{Code: CodeNotOnWhatsApp, Reason: "O número não tem conta no WhatsApp.", Err: err}
	}
	return &providers.RetryableError{Err: err}
}

// serverCode extracts N from whatsmeow's "server returned error N" (the
// code is only available formatted, send.go).
func serverCode(err error) int {
	msg := err.Error()
	i := strings.LastIndex(msg, whatsmeow.ErrServerReturnedError.Error())
	if i < 0 {
		return 0
	}
	rest := strings.TrimSpace(msg[i+len(whatsmeow.ErrServerReturnedError.Error()):])
	if j := strings.IndexFunc(rest, func(r rune) bool { return r < '0' || r > '9' }); j >= 0 {
		rest = rest[:j]
	}
	n, _ := strconv.Atoi(rest)
	return n
}

func classifyServerCode(code int, err error, timelockUntil *time.Time) error {
	switch {
	case code == serverErrTimelock:
		// WhatsApp time-locks companion devices from reaching new contacts;
		// the message waits for the end of the timelock.
		se := &providers.SessionUnavailableError{State: providers.StateTimelocked, Err: err}
		if timelockUntil != nil {
			se.Until = *timelockUntil
		}
		return se
	case code == serverErrNoLIDMapping:
		return &providers.PermanentError{Code: CodeServerRejected + ":479", Reason: "O WhatsApp recusou o destinatário (identidade LID desconhecida).", Err: err}
	case code == serverErrRateLimit:
		return &providers.RateLimitedError{Scope: providers.ScopeNumber, After: time.Minute, Code: "429", Err: err}
	case code >= 500:
		return &providers.RetryableError{Err: err}
	default:
		return &providers.PermanentError{Code: CodeServerRejected + ":" + strconv.Itoa(code), Reason: "O WhatsApp recusou a mensagem (erro " + strconv.Itoa(code) + ").", Err: err}
	}
}

func isClassified(err error) bool { return providers.Classified(err) }
