package zapbase

import (
	"errors"
	"fmt"
)

// Code is a stable, snake_case English error code. Clients may switch on it;
// it never changes once published.
type Code string

// Error codes shared by the API, dispatch and providers.
const (
	CodeInvalidInput        Code = "invalid_input"
	CodeNotFound            Code = "not_found"
	CodeConflict            Code = "conflict"
	CodeUnauthorized        Code = "unauthorized"
	CodeForbidden           Code = "forbidden"
	CodeMissingClientID     Code = "missing_client_id"
	CodeRateLimited         Code = "rate_limited"
	CodeInternal            Code = "internal_error"
	CodeUnavailable         Code = "service_unavailable"
	CodeProviderUnavailable Code = "provider_unavailable"
	CodeUnsupported         Code = "unsupported_message_type"
	CodeSessionUnavailable  Code = "session_unavailable"
	CodeAuthLost            Code = "provider_auth_lost"
	CodeProviderRejected    Code = "provider_rejected"
	CodeRetriesExhausted    Code = "retries_exhausted"
	CodeAmbiguousSend       Code = "ambiguous_send"
	CodeTemplateRequired    Code = "template_required"
	CodePayloadTooLarge     Code = "payload_too_large"
	CodeInvalidSignature    Code = "invalid_signature"
)

// Error codes of WhatsApp Web's late-2026 features (issue 19).
const (
	// CodeNotOnWhatsApp: the recipient number has no WhatsApp account
	// (checked with and without Brazil's ninth digit).
	CodeNotOnWhatsApp Code = "not_on_whatsapp"
	// CodeUnsupportedByProvider: the session's provider cannot do this
	// operation (edit, delete, number check…).
	CodeUnsupportedByProvider Code = "unsupported_by_provider"
)

// Error is an error meant for users: a stable Code and a Brazilian Portuguese
// Message. The wrapped cause is for logs only and never shown.
type Error struct {
	Code    Code
	Message string
	Cause   error
}

// Error implements error.
func (e *Error) Error() string {
	if e.Cause != nil {
		return fmt.Sprintf("%s: %s: %v", e.Code, e.Message, e.Cause)
	}
	return fmt.Sprintf("%s: %s", e.Code, e.Message)
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Cause }

// Errorf returns an *Error with code and a pt-BR message.
func Errorf(code Code, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCode returns the code of the first *Error in err's chain, or
// CodeInternal when there is none.
func ErrorCode(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return CodeInternal
}

// ErrorMessage returns the pt-BR message of the first *Error in err's chain,
// or a generic message that reveals nothing internal.
func ErrorMessage(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Message
	}
	return "Erro interno. Tente novamente mais tarde."
}

// ErrInvalidProvider is returned when a provider type is unknown.
var ErrInvalidProvider = &Error{Code: CodeInvalidInput, Message: "provedor inválido: use baileys, meta_api, sandbox ou auto"}
