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

// Error codes of the HTTP API (client-visible), each more specific than a
// shared code above.
const (
	CodeAdminDisabled           Code = "admin_disabled"
	CodeAgentNotFound           Code = "agent_not_found"
	CodeAPIKeyNotFound          Code = "api_key_not_found"
	CodeIdempotencyInProgress   Code = "idempotency_in_progress"
	CodeIdempotencyKeyReused    Code = "idempotency_key_reused"
	CodeMediaStoreFailed        Code = "media_store_failed"
	CodeMediaStoreUnavailable   Code = "media_store_unavailable"
	CodeMemberNotFound          Code = "member_not_found"
	CodeMessageNotFound         Code = "message_not_found"
	CodeMethodNotAllowed        Code = "method_not_allowed"
	CodeNotAcceptable           Code = "not_acceptable"
	CodeProviderError           Code = "provider_error"
	CodeProviderUnreachable     Code = "provider_unreachable"
	CodeRequestTimeout          Code = "request_timeout"
	CodeSessionLimitReached     Code = "session_limit_reached"
	CodeSessionNotFound         Code = "session_not_found"
	CodeSessionProviderMismatch Code = "session_provider_mismatch"
	CodeTenantExists            Code = "tenant_exists"
	CodeTenantInactive          Code = "tenant_inactive"
	CodeTenantNotFound          Code = "tenant_not_found"
	CodeUnknownTenant           Code = "unknown_tenant"
	CodeUnsupportedContentType  Code = "unsupported_content_type"
	CodeUserNotFound            Code = "user_not_found"
	CodeWebhookDisabled         Code = "webhook_disabled"
)

// Error codes providers write on message rows (error_code) and session
// states, beside the channels' own numeric codes (Meta's 131047…).
const (
	CodeInvalidContent      Code = "invalid_content"
	CodePairCodeFailed      Code = "pair_code_failed"
	CodeMediaDownloadFailed Code = "media_download_failed"
	// Simulated failures of the sandbox provider.
	CodeSandboxThrottled Code = "sandbox_throttled"
	CodeSandboxRejected  Code = "sandbox_rejected"
	CodeSandboxAuthLost  Code = "sandbox_auth_lost"
)

// reasons are the default pt-BR explanations of codes, for answers that
// have no more specific message (a status huma produced by itself, an
// error without a message).
var reasons = map[Code]string{
	CodeInvalidInput:           "Dados de entrada inválidos; veja a lista de erros.",
	CodeNotFound:               "Recurso não encontrado.",
	CodeConflict:               "Conflito com um registro existente.",
	CodeUnauthorized:           "Credenciais ausentes ou inválidas.",
	CodeForbidden:              "Acesso negado.",
	CodeMissingClientID:        "Informe o cabeçalho X-Client-Id.",
	CodeRateLimited:            "Muitas requisições; tente novamente em instantes.",
	CodeInternal:               "Erro interno. Tente novamente mais tarde.",
	CodeUnavailable:            "Serviço indisponível; tente novamente em instantes.",
	CodeProviderUnavailable:    "O provedor está indisponível no momento.",
	CodeUnsupported:            "Tipo de mensagem não suportado por este provedor.",
	CodeSessionUnavailable:     "A sessão não pode enviar mensagens agora.",
	CodeAuthLost:               "A sessão perdeu a autenticação com o provedor; conecte-a novamente.",
	CodeProviderRejected:       "O provedor recusou a mensagem.",
	CodeRetriesExhausted:       "A mensagem não foi enviada após várias tentativas.",
	CodeAmbiguousSend:          "Não foi possível confirmar se a mensagem foi entregue ao provedor.",
	CodeTemplateRequired:       "Fora da janela de 24 horas: use um template aprovado.",
	CodePayloadTooLarge:        "Corpo da requisição grande demais.",
	CodeInvalidSignature:       "Assinatura inválida.",
	CodeMethodNotAllowed:       "Método HTTP não permitido para este recurso.",
	CodeNotAcceptable:          "Formato de resposta não suportado; use application/json.",
	CodeRequestTimeout:         "Tempo esgotado lendo o corpo da requisição.",
	CodeUnsupportedContentType: "Content-Type não suportado.",
}

// Reason is the default pt-BR explanation of code (the internal error's
// for a code without one).
func Reason(code Code) string {
	if r, ok := reasons[code]; ok {
		return r
	}
	return reasons[CodeInternal]
}

// Error codes of WhatsApp Web's late-2026 features (issue 19).
const (
	// CodeNotOnWhatsApp: the recipient number has no WhatsApp account
	// (checked with and without Brazil's ninth digit).
	CodeNotOnWhatsApp Code = "not_on_whatsapp"
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
	return Reason(CodeInternal)
}

// ErrInvalidProvider is returned when a provider type is unknown.
var ErrInvalidProvider = &Error{Code: CodeInvalidInput, Message: "provedor inválido: use baileys, meta_api, sandbox ou auto"}
