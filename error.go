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
	CodeInvalidRecipient    Code = "invalid_recipient" // impossible number: all zeros, unknown country code, wrong length, inexistent DDD
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
	// Meta Cloud API: refused before calling Meta (issue 18).
	CodeTemplatePaused    Code = "template_paused"
	CodeTemplateDisabled  Code = "template_disabled"
	CodeMarketingOptedOut Code = "marketing_opted_out"
	// CodeUnsupportedKnowledgeBase: an agent's knowledgeBase names a kind of
	// store zapbase does not run (e.g. an external vector database).
	CodeUnsupportedKnowledgeBase Code = "unsupported_knowledge_base"
	// CodeWebhookTargetBlocked: an outgoing webhook URL points at a
	// private, loopback or link-local address (SSRF protection).
	CodeWebhookTargetBlocked Code = "webhook_target_blocked"
	// CodeUnsupportedByProvider: the session's provider cannot do this
	// (e.g. group management on the Meta Cloud API).
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
