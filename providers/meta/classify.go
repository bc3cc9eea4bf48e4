package meta

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"time"

	"github.com/zapbase/zapbase/providers"
)

// Backoffs for Meta's throttling codes. Meta documents the pair limit's
// 4^n seconds; the others are "back off" without a number, so these are our
// choices (seconds for throughput, minutes for app/WABA request limits).
const (
	backoffThroughput   = 3 * time.Second  // 130429: per-number mps
	backoffWABA         = time.Minute      // 80007: WABA rate limit
	backoffAppRate      = 5 * time.Minute  // 4: app request rate
	backoffSpam         = time.Hour        // 131048: quality problem, park the number
	backoffUnknown      = 10 * time.Second // 131000 and 1
	backoffUnavailable  = 30 * time.Second // 2, 131016, 133004
	backoffMaintenance  = time.Minute      // 131057: throughput upgrade
	maxPairBackoff      = time.Hour        // cap of the 131056 4^n ladder
	backoffHTTPFallback = 15 * time.Second // 5xx without an envelope
	backoffFlowThrottle = 10 * time.Minute // 132069: 10 sends of a throttled flow per hour
	backoffTransient    = 30 * time.Second // unknown code marked is_transient
)

// accountBlockCodes stop every send of the number until someone acts.
var accountBlockCodes = map[int]bool{
	368:    true, // WABA restricted for policy violation
	131031: true, // account locked
	133010: true, // number not registered on Cloud API
	131042: true, // payment problem
	131045: true, // registration error
}

// reasons are the pt-BR explanations stored with failed messages and shown
// to users, by Meta error code.
var reasons = map[int]string{
	0:      "Falha de autenticação na API da Meta: gere um novo token de acesso e reconfigure a sessão.",
	190:    "O token de acesso da Meta expirou ou é inválido: gere um novo token (de preferência permanente, de usuário do sistema) e reconfigure a sessão.",
	3:      "O app da Meta não tem a capacidade necessária para esta operação.",
	10:     "O token da Meta não tem permissão para esta operação (whatsapp_business_messaging).",
	4:      "Limite de requisições do app na Meta atingido: os envios serão retomados em alguns minutos.",
	80007:  "Limite de requisições da conta WhatsApp Business atingido: os envios serão retomados em breve.",
	130429: "Limite de mensagens por segundo do número atingido: os envios serão retomados em instantes.",
	131056: "Muitas mensagens para o mesmo contato em pouco tempo: o envio para este contato será tentado novamente mais tarde.",
	131048: "Envios limitados pela Meta por denúncias ou bloqueios (spam): revise a qualidade das mensagens antes de continuar.",
	131049: "A Meta não entregou a mensagem para preservar o engajamento do usuário (limite de mensagens de marketing). Não reenvie antes de 24 horas.",
	131050: "O contato optou por não receber mensagens de marketing.",
	131047: "Mais de 24 horas desde a última mensagem do contato: fora da janela de atendimento só é possível enviar um modelo (template) aprovado.",
	131026: "Não foi possível entregar a mensagem: o número não tem WhatsApp, não aceitou os termos ou usa uma versão antiga do aplicativo.",
	131051: "Tipo de mensagem não suportado pela API da Meta.",
	131052: "Não foi possível baixar a mídia enviada pelo contato (por exemplo, arquivo maior que 100 MB). Peça para o contato reenviar.",
	131053: "A Meta não conseguiu baixar ou processar a mídia da mensagem (link inacessível ou tipo MIME incorreto). Corrija o arquivo ou o link.",
	131000: "Erro desconhecido na API da Meta: o envio será tentado novamente.",
	1:      "Erro desconhecido na API da Meta: o envio será tentado novamente.",
	2:      "A API da Meta está temporariamente indisponível: o envio será tentado novamente.",
	131016: "A API da Meta está temporariamente indisponível: o envio será tentado novamente.",
	133004: "A API da Meta está temporariamente indisponível: o envio será tentado novamente.",
	131057: "A conta está em manutenção na Meta: o envio será tentado novamente em cerca de um minuto.",
	131021: "O destinatário é o próprio número remetente.",
	131030: "O destinatário não está na lista de números permitidos do número de teste.",
	131042: "Problema de pagamento na conta WhatsApp Business: regularize a forma de pagamento na Meta.",
	131045: "Erro de registro do número na API da Meta: registre o número novamente.",
	100:    "Parâmetro inválido na requisição à API da Meta (valor inválido ou tamanho excedido).",
	131008: "Parâmetro obrigatório ausente na mensagem.",
	131009: "Valor de parâmetro inválido na mensagem.",
	132000: "O número de parâmetros não corresponde ao modelo (template).",
	132001: "O modelo (template) não existe neste idioma ou ainda não foi aprovado.",
	132005: "O texto do modelo (template) ficou longo demais após preencher os parâmetros.",
	132007: "O conteúdo do modelo (template) viola a política da Meta.",
	132012: "O formato dos parâmetros não corresponde ao modelo (template).",
	132015: "O modelo (template) está pausado por baixa qualidade.",
	132016: "O modelo (template) foi desativado por baixa qualidade.",
	132018: "Os parâmetros do modelo (template) não passaram na validação.",
	133010: "O número não está registrado na API de Nuvem da Meta: conclua o registro do número.",
	368:    "A conta WhatsApp Business foi restringida por violação de política: os envios foram suspensos.",
	131031: "A conta WhatsApp Business foi bloqueada: os envios foram suspensos.",
	130497: "A conta está impedida de enviar mensagens para usuários deste país.",
	130472: "O número do contato faz parte de um experimento da Meta e a mensagem de marketing não foi enviada.",
	131064: "O limite de mensagens foi reduzido pela Meta por classificação incorreta de modelos.",
	131060: "O contato está temporariamente indisponível.",
	131005: "Acesso negado pela Meta: a permissão do token (whatsapp_business_messaging) não foi concedida ou foi removida. Gere um novo token e reconfigure a sessão.",
	131037: "O número precisa ter o nome de exibição aprovado pela Meta antes de enviar mensagens.",
	131062: "A Meta recusou a mensagem para este destinatário com o erro 131062: o tipo de envio não é permitido para este número ou contato. Veja os detalhes no Gerenciador do WhatsApp.",
	131063: "A Meta recusou a mensagem para este destinatário com o erro 131063: o tipo de envio não é permitido para este número ou contato. Veja os detalhes no Gerenciador do WhatsApp.",
	132068: "O fluxo (WhatsApp Flow) da mensagem está bloqueado pela Meta.",
	132069: "O fluxo (WhatsApp Flow) da mensagem está limitado pela Meta (no máximo 10 envios por hora): o envio será tentado novamente mais tarde.",
	137000: "A chave de identidade do contato mudou (identity_key_hash diferente): confirme a identidade do contato antes de reenviar.",
	135000: "A Meta recusou a mensagem por um erro genérico nos parâmetros da requisição.",
}

// Reason returns the pt-BR explanation of a Meta error code.
func Reason(code int) string {
	if r, ok := reasons[code]; ok {
		return r
	}
	if code >= 200 && code <= 299 {
		return reasons[10]
	}
	return fmt.Sprintf("A API da Meta recusou a mensagem (erro %d).", code)
}

// errorKind is what a Meta error code means for the sender.
type errorKind int

const (
	kindPermanent errorKind = iota
	kindRetryable
	kindRateNumber
	kindRateRecipient
	kindAuthLost
	kindAccountBlocked
)

// kindOf classifies a Graph error code. HTTP status is only a fallback for
// codes we do not know.
func kindOf(code, httpStatus int, transient bool) (errorKind, time.Duration) {
	switch code {
	case 0, 190, 3, 10:
		return kindAuthLost, 0
	case 130429:
		return kindRateNumber, backoffThroughput
	case 80007:
		return kindRateNumber, backoffWABA
	case 4:
		return kindRateNumber, backoffAppRate
	case 131048:
		return kindRateNumber, backoffSpam
	case 131056:
		return kindRateRecipient, 0
	case 131000, 1:
		return kindRetryable, backoffUnknown
	case 2, 131016, 133004:
		return kindRetryable, backoffUnavailable
	case 131057:
		return kindRetryable, backoffMaintenance
	case 131005:
		return kindAuthLost, 0
	case 132069:
		return kindRetryable, backoffFlowThrottle
	}
	if code >= 200 && code <= 299 {
		return kindAuthLost, 0
	}
	if accountBlockCodes[code] {
		return kindAccountBlocked, 0
	}
	if _, known := reasons[code]; known {
		return kindPermanent, 0
	}
	if transient {
		// Meta says retrying may work; we do not know the code better.
		return kindRetryable, backoffTransient
	}
	if httpStatus >= 500 {
		return kindRetryable, backoffHTTPFallback
	}
	return kindPermanent, 0
}

// pairBackoff is Meta's advice for 131056: 4^n seconds, n = 0, 1, 2, …
func pairBackoff(attempt int) time.Duration {
	n := max(attempt-1, 0)
	if n > 6 {
		return maxPairBackoff
	}
	d := time.Duration(math.Pow(4, float64(n))) * time.Second
	return min(d, maxPairBackoff)
}

// Classify translates an error of a Graph API send into the classified
// errors of package providers. attempt is the send attempt (from 1) and
// drives the 131056 ladder. send tells whether the call was a message send
// (then a timeout after the request was written is ambiguous).
func Classify(err error, attempt int, send bool) error {
	if err == nil {
		return nil
	}
	var ge *GraphError
	if errors.As(err, &ge) {
		code := strconv.Itoa(ge.Code)
		kind, after := kindOf(ge.Code, ge.HTTPStatus, ge.IsTransient)
		switch kind {
		case kindAuthLost:
			return &providers.AuthLostError{Code: code, Reason: Reason(ge.Code), Err: err}
		case kindAccountBlocked:
			return &providers.SessionUnavailableError{State: providers.StateBlocked, Err: err}
		case kindRateNumber:
			return &providers.RateLimitedError{After: after, Scope: providers.ScopeNumber, Code: code, Err: err}
		case kindRateRecipient:
			return &providers.RateLimitedError{After: pairBackoff(attempt), Scope: providers.ScopeRecipient, Code: code, Err: err}
		case kindRetryable:
			return &providers.RetryableError{After: after, Err: err}
		default:
			return &providers.PermanentError{Code: code, Reason: Reason(ge.Code), Err: err}
		}
	}
	var he *HTTPError
	if errors.As(err, &he) {
		switch {
		case he.Status >= 500, he.Status == http.StatusTooManyRequests:
			return &providers.RetryableError{After: backoffHTTPFallback, Err: err}
		case he.Status == http.StatusUnauthorized:
			return &providers.AuthLostError{Code: "http_401", Reason: reasons[190], Err: err}
		default:
			return &providers.PermanentError{Code: "http_" + strconv.Itoa(he.Status),
				Reason: fmt.Sprintf("A API da Meta respondeu com erro HTTP %d.", he.Status), Err: err}
		}
	}
	var te *TransportError
	if errors.As(err, &te) {
		if send && te.Written {
			return &providers.AmbiguousError{Err: err}
		}
		return &providers.RetryableError{Err: err}
	}
	return &providers.RetryableError{Err: err}
}
