package api

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"

	"github.com/danielgtaylor/huma/v2"
	"github.com/danielgtaylor/huma/v2/validation"

	"github.com/zapbase/zapbase"
)

// Problem is the one public error shape (RFC 9457 problem+json) with a
// stable snake_case code and a pt-BR message. Detail repeats Message for
// generic RFC 9457 clients.
type Problem struct {
	Type      string       `json:"type" doc:"Referência do tipo de problema" example:"about:blank"`
	Title     string       `json:"title" doc:"Resumo do status HTTP" example:"Unprocessable Entity"`
	Status    int          `json:"status" doc:"Status HTTP" example:"422"`
	Detail    string       `json:"detail" doc:"Explicação desta ocorrência (igual a message)" example:"Dados de entrada inválidos; veja a lista de erros."`
	Code      string       `json:"code" doc:"Código estável do erro (snake_case, em inglês)" example:"invalid_input"`
	Message   string       `json:"message" doc:"Mensagem em português para o usuário" example:"Dados de entrada inválidos; veja a lista de erros."`
	RequestID string       `json:"requestId,omitempty" doc:"Id da requisição (cabeçalho X-Request-Id)" example:"01J9Z3K4"`
	Errors    []FieldError `json:"errors,omitempty" doc:"Erros por campo"`

	headers http.Header
	cause   error
}

// FieldError names one invalid input.
type FieldError struct {
	Location string `json:"location,omitempty" doc:"Onde está o erro, ex.: body.to, header.X-Client-Id" example:"body.to"`
	Message  string `json:"message" doc:"O que está errado" example:"deve corresponder ao padrão ^\\+?[0-9]{8,15}$"`
	Value    any    `json:"value,omitempty" doc:"Valor recebido"`
}

// NewProblem builds a problem. Other packages registering operations return
// it from handlers (huma writes it as problem+json).
func NewProblem(status int, code zapbase.Code, message string, fields ...FieldError) *Problem {
	return &Problem{Type: "about:blank", Title: http.StatusText(status), Status: status, Code: string(code),
		Message: message, Detail: message, Errors: fields}
}

// Error implements error.
func (p *Problem) Error() string {
	if p.cause != nil {
		return fmt.Sprintf("%s: %s: %v", p.Code, p.Message, p.cause)
	}
	return p.Code + ": " + p.Message
}

// Unwrap exposes the internal cause (logged, never sent).
func (p *Problem) Unwrap() error { return p.cause }

// GetStatus implements huma.StatusError.
func (p *Problem) GetStatus() int { return p.Status }

// GetHeaders implements huma.HeadersError (Retry-After).
func (p *Problem) GetHeaders() http.Header {
	if p.headers == nil {
		p.headers = http.Header{}
	}
	return p.headers
}

// ContentType implements huma.ContentTypeFilter.
func (p *Problem) ContentType(string) string { return "application/problem+json" }

// WithCause attaches an internal cause for the logs.
func (p *Problem) WithCause(err error) *Problem { p.cause = err; return p }

// WithRetryAfter sets Retry-After in seconds.
func (p *Problem) WithRetryAfter(seconds int) *Problem {
	p.GetHeaders().Set("Retry-After", strconv.Itoa(seconds))
	return p
}

// Internal is the problem for unexpected failures: a generic pt-BR message,
// the cause kept for the access log.
func Internal(err error) *Problem {
	return NewProblem(http.StatusInternalServerError, zapbase.CodeInternal, zapbase.Reason(zapbase.CodeInternal)).WithCause(err)
}

// FromError converts a domain error (zapbase.Error) to a problem with the
// given status; other errors become Internal.
func FromError(status int, err error) *Problem {
	var p *Problem
	if errors.As(err, &p) {
		return p
	}
	var ze *zapbase.Error
	if errors.As(err, &ze) {
		return NewProblem(status, ze.Code, ze.Message).WithCause(ze.Cause)
	}
	return Internal(err)
}

// Common problems.
func errInvalid(msg string, fields ...FieldError) *Problem {
	return NewProblem(http.StatusUnprocessableEntity, zapbase.CodeInvalidInput, msg, fields...)
}

func errNotFound(code zapbase.Code, msg string) *Problem {
	return NewProblem(http.StatusNotFound, code, msg)
}

// statusCodes maps statuses huma produces on its own to stable codes.
var statusCodes = map[int]zapbase.Code{
	http.StatusBadRequest:            zapbase.CodeInvalidInput,
	http.StatusUnauthorized:          zapbase.CodeUnauthorized,
	http.StatusForbidden:             zapbase.CodeForbidden,
	http.StatusNotFound:              zapbase.CodeNotFound,
	http.StatusMethodNotAllowed:      zapbase.CodeMethodNotAllowed,
	http.StatusNotAcceptable:         zapbase.CodeNotAcceptable,
	http.StatusRequestTimeout:        zapbase.CodeRequestTimeout,
	http.StatusConflict:              zapbase.CodeConflict,
	http.StatusRequestEntityTooLarge: zapbase.CodePayloadTooLarge,
	http.StatusUnsupportedMediaType:  zapbase.CodeUnsupportedContentType,
	http.StatusUnprocessableEntity:   zapbase.CodeInvalidInput,
	http.StatusTooManyRequests:       zapbase.CodeRateLimited,
	http.StatusServiceUnavailable:    zapbase.CodeUnavailable,
}

// reasonStatuses are the statuses whose answer carries the pt-BR reason of
// their code (zapbase.Reason); any other reads "Requisição inválida.".
var reasonStatuses = map[int]bool{
	http.StatusNotFound: true, http.StatusMethodNotAllowed: true, http.StatusNotAcceptable: true,
	http.StatusRequestTimeout: true, http.StatusRequestEntityTooLarge: true,
	http.StatusUnsupportedMediaType: true, http.StatusUnprocessableEntity: true,
}

// hookHumaErrors makes every error huma produces by itself (validation,
// body size, unknown content type, unexpected handler errors) a Problem.
// huma.NewError is process-global; only this package uses huma. It is set
// once: a second server built while the first serves requests (parallel
// tests) would otherwise write it while huma reads it.
func hookHumaErrors() { hookOnce.Do(hookHumaErrorsOnce) }

var hookOnce sync.Once

func hookHumaErrorsOnce() {
	huma.NewErrorWithContext = func(hctx huma.Context, status int, msg string, errs ...error) huma.StatusError {
		p := humaProblem(status, msg, errs...)
		if hctx != nil {
			annotate(hctx.Context(), p)
		}
		return p
	}
	huma.NewError = func(status int, msg string, errs ...error) huma.StatusError {
		return humaProblem(status, msg, errs...)
	}
	translateValidation()
}

func humaProblem(status int, msg string, errs ...error) *Problem {
	if status == http.StatusInternalServerError && msg == "cannot read request body" {
		status = http.StatusBadRequest // client went away or sent a broken body
	}
	if status >= 500 || status == 0 {
		var cause error = errors.New(msg)
		if len(errs) > 0 {
			cause = fmt.Errorf("%s: %w", msg, errors.Join(errs...))
		}
		if status == 0 { // huma's example error for the docs
			return NewProblem(http.StatusUnprocessableEntity, zapbase.CodeInvalidInput, zapbase.Reason(zapbase.CodeInvalidInput))
		}
		return Internal(cause)
	}
	code, ok := statusCodes[status]
	if !ok {
		code = zapbase.CodeInvalidInput
	}
	m := "Requisição inválida."
	if reasonStatuses[status] {
		m = zapbase.Reason(code)
	}
	if status == http.StatusBadRequest && strings.Contains(msg, "required") {
		m = "O corpo da requisição é obrigatório."
	}
	p := NewProblem(status, code, m)
	for _, e := range errs {
		if e == nil {
			continue
		}
		var d huma.ErrorDetailer
		if errors.As(e, &d) {
			det := d.ErrorDetail()
			p.Errors = append(p.Errors, FieldError{Location: det.Location, Message: translateMessage(det.Message), Value: det.Value})
		} else {
			p.Errors = append(p.Errors, FieldError{Message: translateMessage(e.Error())})
		}
	}
	return p
}

func translateMessage(m string) string {
	switch {
	case strings.HasPrefix(m, "invalid character"), strings.HasPrefix(m, "unexpected end of JSON"),
		strings.HasPrefix(m, "json:"), strings.HasPrefix(m, "cannot unmarshal"):
		return "JSON inválido: " + m
	case strings.HasPrefix(m, "request body is too large"):
		return "corpo grande demais (" + strings.TrimPrefix(m, "request body is too large ") + ")"
	}
	return m
}

// translateValidation puts huma's validation messages in pt-BR.
func translateValidation() {
	validation.MsgUnexpectedProperty = "propriedade desconhecida"
	validation.MsgExpectedRFC3339DateTime = "esperada data-hora RFC 3339"
	validation.MsgExpectedRFC3339Date = "esperada data RFC 3339"
	validation.MsgExpectedRFC5322Email = "esperado e-mail válido: %v"
	validation.MsgExpectedRFC3986URI = "esperada URI válida: %v"
	validation.MsgExpectedRFC4122UUID = "esperado UUID válido: %v"
	validation.MsgExpectedBoolean = "esperado booleano"
	validation.MsgExpectedNumber = "esperado número"
	validation.MsgExpectedInteger = "esperado inteiro"
	validation.MsgExpectedString = "esperado texto"
	validation.MsgExpectedBase64String = "esperado texto em base64"
	validation.MsgExpectedArray = "esperada lista"
	validation.MsgExpectedObject = "esperado objeto"
	validation.MsgExpectedOneOf = "valor deve ser um de \"%s\""
	validation.MsgExpectedMinimumNumber = "esperado número >= %v"
	validation.MsgExpectedMaximumNumber = "esperado número <= %v"
	validation.MsgExpectedExclusiveMinimumNumber = "esperado número > %v"
	validation.MsgExpectedExclusiveMaximumNumber = "esperado número < %v"
	validation.MsgExpectedMinLength = "tamanho mínimo %d"
	validation.MsgExpectedMaxLength = "tamanho máximo %d"
	validation.MsgExpectedMatchPattern = "deve corresponder ao padrão %s"
	validation.MsgExpectedMinItems = "lista com no mínimo %d itens"
	validation.MsgExpectedMaxItems = "lista com no máximo %d itens"
	validation.MsgExpectedRequiredProperty = "propriedade obrigatória %s ausente"
	validation.MsgExpectedMatchAtLeastOneSchema = "o valor não corresponde a nenhum formato aceito"
	validation.MsgExpectedMatchExactlyOneSchema = "o valor deve corresponder a exatamente um formato aceito"
}

// writeProblem writes p directly (middlewares, raw handlers).
func writeProblem(w http.ResponseWriter, r *http.Request, p *Problem) {
	annotate(r.Context(), p)
	for k, v := range p.headers {
		for _, s := range v {
			w.Header().Add(k, s)
		}
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// writeHumaProblem writes p from a huma middleware.
func writeHumaProblem(hctx huma.Context, p *Problem) {
	annotate(hctx.Context(), p)
	for k, v := range p.headers {
		for _, s := range v {
			hctx.AppendHeader(k, s)
		}
	}
	hctx.SetHeader("Content-Type", "application/problem+json")
	hctx.SetHeader("Cache-Control", "no-store")
	hctx.SetStatus(p.Status)
	_ = json.NewEncoder(hctx.BodyWriter()).Encode(p)
}

// annotate stamps the request id on p and hands its cause to the access log.
func annotate(ctx context.Context, p *Problem) {
	ri := reqInfoFrom(ctx)
	if ri == nil {
		return
	}
	p.RequestID = ri.id
	ri.code = p.Code
	if p.cause != nil {
		ri.err = p.cause
	}
}
