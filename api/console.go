package api

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/danielgtaylor/huma/v2"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"rsc.io/qr"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/store"
)

// Read endpoints the console needs (and any frontend may use): the user's
// tenants, conversations and their timelines, a session's QR code as an
// image, stored media, handoff to a human and back, a simulated inbound
// message on sandbox sessions (the agent test chat) and the dashboard
// figures. Every query filters by the caller's tenant.

// MemberTenant is one tenant the signed-in user belongs to.
type MemberTenant struct {
	ClientID string `json:"clientId" example:"demo"`
	Name     string `json:"name" example:"Empresa Demo"`
	Role     string `json:"role" enum:"owner,admin,member" example:"owner"`
}

// MeTenants answers GET /me/tenants.
type MeTenants struct {
	UserID  string         `json:"userId" format:"uuid"`
	Email   string         `json:"email,omitempty"`
	Tenants []MemberTenant `json:"tenants"`
}

// ConversationSummary is one contact with its last message.
type ConversationSummary struct {
	Contact     string    `json:"contact" example:"5511988887777"`
	SessionID   *string   `json:"sessionId,omitempty"`
	PushName    string    `json:"pushName,omitempty" doc:"Nome do contato informado pelo WhatsApp"`
	LastMessage Message   `json:"lastMessage"`
	Unanswered  int       `json:"unanswered" doc:"Mensagens recebidas depois da última enviada"`
	AIState     string    `json:"aiState,omitempty" enum:"active,paused,handoff," doc:"Estado do agente na conversa (vazio: sem conversa de IA)"`
	AgentID     *string   `json:"agentId,omitempty"`
	UpdatedAt   time.Time `json:"updatedAt"`
}

// Message is a message row as the console shows it.
type Message struct {
	ID          string            `json:"id"`
	Direction   string            `json:"direction" enum:"outbound,inbound"`
	Type        string            `json:"type" example:"text"`
	Content     providers.Content `json:"content"`
	Status      string            `json:"status" example:"read"`
	Provider    string            `json:"provider" example:"sandbox"`
	SessionID   *string           `json:"sessionId,omitempty"`
	Contact     string            `json:"contact"`
	ErrorCode   string            `json:"errorCode,omitempty"`
	ErrorReason string            `json:"errorReason,omitempty" doc:"Motivo da falha, em português"`
	AgentID     *string           `json:"agentId,omitempty" doc:"Agente de IA que escreveu a resposta"`
	HasMedia    bool              `json:"hasMedia" doc:"A mídia está guardada e pode ser lida em /messages/{id}/media"`
	CreatedAt   time.Time         `json:"createdAt"`
	UpdatedAt   time.Time         `json:"updatedAt"`
}

// HandoffRequest is PUT /conversations/handoff.
type HandoffRequest struct {
	SessionID string `json:"sessionId" format:"uuid" doc:"Sessão da conversa"`
	Contact   string `json:"contact" minLength:"1" maxLength:"200" example:"5511988887777"`
	To        string `json:"to" enum:"human,agent" doc:"human: o agente para de responder; agent: o agente volta a responder"`
}

// SimulateInboundRequest is POST /conversations/simulate-inbound.
type SimulateInboundRequest struct {
	SessionID string `json:"sessionId" format:"uuid" doc:"Sessão sandbox que recebe a mensagem"`
	From      string `json:"from" pattern:"^[0-9]{8,15}$" example:"5511977776666"`
	Text      string `json:"text" minLength:"1" maxLength:"4096" example:"Olá, quero saber dos apartamentos"`
}

// Dashboard answers GET /dashboard (the spec's §9 figures for the tenant).
type Dashboard struct {
	Hours            int              `json:"hours" example:"24"`
	Sent             int64            `json:"sent" doc:"Mensagens enviadas com sucesso (sent ou depois)"`
	Failed           int64            `json:"failed"`
	InFlight         int64            `json:"inFlight" doc:"pending ou sending"`
	SuccessRate      *float64         `json:"successRate" doc:"sent / (sent + failed); null sem envios"`
	Received         int64            `json:"received"`
	LatencyP50Ms     *float64         `json:"latencyP50Ms" doc:"Latência de processamento (linha criada → aceita pelo provedor), mediana"`
	LatencyP95Ms     *float64         `json:"latencyP95Ms"`
	AIResponseP50Ms  *float64         `json:"aiResponseP50Ms" doc:"Tempo de resposta da IA (mensagem recebida → resposta gravada), mediana"`
	AIResponseP95Ms  *float64         `json:"aiResponseP95Ms"`
	AIReplies        int64            `json:"aiReplies"`
	ActiveSessions   int64            `json:"activeSessions" doc:"Sessões conectadas"`
	Sessions         map[string]int64 `json:"sessions" doc:"Sessões por estado"`
	ProviderMix      map[string]int64 `json:"providerMix" doc:"Envios por provedor (baileys, meta_api, sandbox)"`
	SessionProviders map[string]int64 `json:"sessionProviders" doc:"Sessões por provedor"`
	Series           []DashboardPoint `json:"series" doc:"Uma amostra por hora"`
}

// DashboardPoint is one hour of the dashboard.
type DashboardPoint struct {
	Hour         time.Time `json:"hour"`
	Sent         int64     `json:"sent"`
	Failed       int64     `json:"failed"`
	Received     int64     `json:"received"`
	LatencyP50Ms *float64  `json:"latencyP50Ms"`
}

// consoleMessage maps a store row to the console's shape: stored media is
// flagged, its path and the provider's raw payload stay server-side.
func consoleMessage(r store.ConsoleMessage) (Message, error) {
	m := Message{ID: r.ID, Direction: r.Direction, Type: r.Type, Status: r.Status, Provider: r.Provider,
		SessionID: r.SessionID, Contact: r.Contact, ErrorCode: r.ErrorCode, ErrorReason: r.ErrorReason, AgentID: r.AgentID,
		CreatedAt: r.CreatedAt, UpdatedAt: r.UpdatedAt}
	if err := json.Unmarshal(r.Content, &m.Content); err != nil {
		return m, err
	}
	m.HasMedia = m.Content.MediaPath != ""
	m.Content.MediaPath = "" // store paths stay server-side
	m.Content.Raw = nil
	return m, nil
}

func consoleMessages(rows []store.ConsoleMessage) ([]Message, error) {
	var out []Message
	for _, r := range rows {
		m, err := consoleMessage(r)
		if err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, nil
}

func (s *Server) registerConsoleAPI(r *Router) {
	huma.Register(s.v1, huma.Operation{
		OperationID: "me-tenants", Method: http.MethodGet, Path: "/me/tenants", Tags: []string{"Tenant"},
		Summary:     "Lista os tenants do usuário",
		Description: "Os tenants de que o usuário do JWT é membro (não precisa de `X-Client-Id`): o console usa esta lista para escolher o tenant.",
		Security:    []map[string][]string{{"supabaseJWT": {}}},
		Errors:      []int{http.StatusUnauthorized},
	}, func(ctx context.Context, in *struct {
		Authorization string `header:"Authorization"`
	}) (*struct{ Body MeTenants }, error) {
		tok, ok := bearer(in.Authorization)
		if !ok || strings.HasPrefix(tok, APIKeyPrefix) {
			return nil, errUnauthorized("Envie Authorization: Bearer <JWT do Supabase>.")
		}
		if s.p.Verifier == nil {
			return nil, errUnauthorized("Autenticação por JWT não está configurada neste servidor.")
		}
		claims, err := s.p.Verifier.Verify(ctx, tok)
		if err != nil {
			return nil, errUnauthorized("Token inválido ou expirado.").WithCause(err)
		}
		out := MeTenants{UserID: claims.UserID(), Email: claims.Email, Tenants: []MemberTenant{}}
		rows, err := s.p.Store.Members().TenantsOf(ctx, out.UserID)
		if err != nil {
			return nil, Internal(err)
		}
		var list []MemberTenant
		for _, r := range rows {
			list = append(list, MemberTenant(r))
		}
		if list != nil {
			out.Tenants = list
		}
		return &struct{ Body MeTenants }{out}, nil
	})

	tags := []string{"Conversas"}
	huma.Register(s.v1, s.tenantOp(huma.Operation{
		OperationID: "list-conversations", Method: http.MethodGet, Path: "/conversations", Tags: tags,
		Summary:     "Lista as conversas (contatos com a última mensagem)",
		Description: "Um item por contato, do mais recente para o mais antigo, com a sessão da conversa e o estado do agente de IA nela.",
	}), func(ctx context.Context, in *struct {
		Limit int `query:"limit" minimum:"1" maximum:"500" default:"100"`
	}) (*struct {
		Body struct {
			Conversations []ConversationSummary `json:"conversations"`
		}
	}, error) {
		t := MustTenant(ctx)
		rows, err := s.p.Store.Messages().ListConversations(ctx, t.ID, in.Limit)
		if err != nil {
			return nil, Internal(err)
		}
		var list []ConversationSummary
		for _, r := range rows {
			m, err := consoleMessage(r.Last)
			if err != nil {
				return nil, Internal(err)
			}
			list = append(list, ConversationSummary{Contact: m.Contact, SessionID: m.SessionID, PushName: r.PushName,
				LastMessage: m, Unanswered: r.Unanswered, AIState: r.AIState, AgentID: r.AgentID, UpdatedAt: m.CreatedAt})
		}
		out := &struct {
			Body struct {
				Conversations []ConversationSummary `json:"conversations"`
			}
		}{}
		out.Body.Conversations = list
		if list == nil {
			out.Body.Conversations = []ConversationSummary{}
		}
		return out, nil
	})

	huma.Register(s.v1, s.tenantOp(huma.Operation{
		OperationID: "conversation-messages", Method: http.MethodGet, Path: "/conversations/messages", Tags: tags,
		Summary:     "Lista as mensagens de uma conversa",
		Description: "A linha do tempo com um contato (mais antigas primeiro), com status, motivo de falha em português e o agente que escreveu cada resposta de IA.",
	}), func(ctx context.Context, in *struct {
		Contact   string `query:"contact" required:"true" minLength:"1" maxLength:"200" doc:"Número do contato ou JID" example:"5511988887777"`
		SessionID string `query:"sessionId" format:"uuid" doc:"Restringe a uma sessão"`
		Limit     int    `query:"limit" minimum:"1" maximum:"500" default:"200"`
	}) (*struct {
		Body struct {
			Messages []Message `json:"messages"`
		}
	}, error) {
		t := MustTenant(ctx)
		var sess *string
		if in.SessionID != "" {
			sess = &in.SessionID
		}
		rows, err := s.p.Store.Messages().Timeline(ctx, store.TimelineParams{TenantID: t.ID, Contact: in.Contact,
			SessionID: sess, Limit: in.Limit})
		if err != nil {
			return nil, Internal(err)
		}
		list, err := consoleMessages(rows)
		if err != nil {
			return nil, Internal(err)
		}
		out := &struct {
			Body struct {
				Messages []Message `json:"messages"`
			}
		}{}
		out.Body.Messages = list
		if list == nil {
			out.Body.Messages = []Message{}
		}
		return out, nil
	})

	huma.Register(s.v1, s.tenantOp(huma.Operation{
		OperationID: "conversation-message", Method: http.MethodGet, Path: "/conversations/messages/{messageId}", Tags: tags,
		Summary:     "Lê uma mensagem da linha do tempo",
		Description: "A mensagem no mesmo formato de `/conversations/messages` (para atualizar a linha do tempo quando um evento chega).",
		Errors:      []int{http.StatusNotFound},
	}), func(ctx context.Context, in *struct {
		MessageID string `path:"messageId" format:"uuid"`
	}) (*struct{ Body Message }, error) {
		t := MustTenant(ctx)
		r, err := s.p.Store.Messages().ConsoleByID(ctx, t.ID, in.MessageID)
		if errors.Is(err, pgx.ErrNoRows) {
			return nil, errNotFound("message_not_found", "Mensagem não encontrada neste tenant.")
		}
		if err != nil {
			return nil, Internal(err)
		}
		m, err := consoleMessage(r)
		if err != nil {
			return nil, Internal(err)
		}
		return &struct{ Body Message }{m}, nil
	})

	huma.Register(s.v1, s.tenantOp(huma.Operation{
		OperationID: "message-media", Method: http.MethodGet, Path: "/messages/{messageId}/media", Tags: []string{"Mensagens"},
		Summary:     "Baixa a mídia de uma mensagem",
		Description: "Os bytes da mídia guardada (recebida ou enviada por upload), com o tipo MIME da mensagem.",
		Errors:      []int{http.StatusNotFound},
		Responses: map[string]*huma.Response{"200": {Description: "Mídia", Content: map[string]*huma.MediaType{
			"application/octet-stream": {Schema: &huma.Schema{Type: "string", Format: "binary"}}}}},
	}), func(ctx context.Context, in *struct {
		MessageID string `path:"messageId" format:"uuid"`
	}) (*huma.StreamResponse, error) {
		t := MustTenant(ctx)
		path, mimeType, err := s.p.Store.Messages().MediaRef(ctx, t.ID, in.MessageID)
		if errors.Is(err, pgx.ErrNoRows) || (err == nil && path == "") {
			return nil, errNotFound("media_not_found", "Esta mensagem não tem mídia guardada.")
		}
		if err != nil {
			return nil, Internal(err)
		}
		// The path was written by the server under the tenant's prefix;
		// check it anyway so a crafted row cannot read another tenant's file.
		if s.p.Media == nil || !strings.HasPrefix(path, t.ClientID+"/") {
			return nil, errNotFound("media_not_found", "Esta mensagem não tem mídia guardada.")
		}
		rc, err := s.p.Media.Open(ctx, path)
		if err != nil {
			return nil, errNotFound("media_not_found", "A mídia não está mais disponível.").WithCause(err)
		}
		return &huma.StreamResponse{Body: func(hctx huma.Context) {
			defer rc.Close()
			if mimeType == "" || strings.ContainsAny(mimeType, "\r\n") {
				mimeType = "application/octet-stream"
			}
			hctx.SetHeader("Content-Type", mimeType)
			hctx.SetHeader("Cache-Control", "private, max-age=3600")
			hctx.SetHeader("X-Content-Type-Options", "nosniff")
			hctx.SetHeader("Content-Security-Policy", "sandbox")
			_, _ = io.Copy(hctx.BodyWriter(), rc)
		}}, nil
	})

	huma.Register(s.v1, s.tenantOp(huma.Operation{
		OperationID: "conversation-handoff", Method: http.MethodPut, Path: "/conversations/handoff", Tags: tags,
		Summary:     "Passa a conversa para um humano ou de volta ao agente",
		Description: "`to: human` faz o agente de IA parar de responder o contato nessa sessão até a conversa voltar (`to: agent`).",
		Errors:      []int{http.StatusNotFound},
	}), func(ctx context.Context, in *struct{ Body HandoffRequest }) (*struct{ Body ConversationInfo }, error) {
		t := MustTenant(ctx)
		if _, p := s.sessionByID(ctx, t, in.Body.SessionID); p != nil {
			return nil, p
		}
		state, until := "active", (*time.Time)(nil)
		if in.Body.To == "human" {
			// "Until it comes back": far enough to mean forever, finite
			// so every reader can hold it in a time.Time.
			u := time.Now().AddDate(100, 0, 0)
			state, until = "handoff", &u
		}
		row, err := s.p.Store.Conversations().SetHandoff(ctx, store.HandoffParams{TenantID: t.ID, SessionID: in.Body.SessionID,
			Contact: in.Body.Contact, State: state, PausedUntil: until})
		if err != nil {
			return nil, Internal(err)
		}
		c := ConversationInfo(row)
		s.audit(ctx, s.p.Store, auditEntry{Action: "conversation.handoff", Target: c.ID, Details: map[string]any{"to": in.Body.To}})
		return &struct{ Body ConversationInfo }{c}, nil
	})

	huma.Register(s.v1, s.tenantOp(huma.Operation{
		OperationID: "simulate-inbound", Method: http.MethodPost, Path: "/conversations/simulate-inbound", Tags: tags,
		Summary:     "Simula uma mensagem recebida (sessões sandbox)",
		Description: "Grava uma mensagem recebida de `from` na sessão sandbox, pelo mesmo caminho de uma mensagem real: o agente de IA da conversa responde. É o chat de teste de agentes do console.",
		Errors:      []int{http.StatusNotFound},
	}), func(ctx context.Context, in *struct{ Body SimulateInboundRequest }) (*struct{ Body Message }, error) {
		t := MustTenant(ctx)
		sess, p := s.sessionByID(ctx, t, in.Body.SessionID)
		if p != nil {
			return nil, p
		}
		if sess.Provider != string(zapbase.ProviderSandbox) {
			return nil, errInvalid("Só sessões sandbox recebem mensagens simuladas.",
				FieldError{Location: "body.sessionId", Message: "sessão não é sandbox", Value: in.Body.SessionID})
		}
		id := "sim-" + uuid.NewString()
		if err := s.p.Events.Inbound(ctx, providers.InboundMessage{TenantID: t.ID, SessionID: sess.SessionID,
			Provider: zapbase.ProviderSandbox, ProviderMessageID: id, From: in.Body.From, To: sess.PhoneNumber,
			Type: zapbase.MessageText, Content: providers.Content{Text: in.Body.Text}, Timestamp: time.Now()}); err != nil {
			return nil, Internal(err)
		}
		r, err := s.p.Store.Messages().ConsoleByProviderID(ctx, t.ID, id)
		if err != nil {
			return nil, Internal(err)
		}
		m, err := consoleMessage(r)
		if err != nil {
			return nil, Internal(err)
		}
		return &struct{ Body Message }{m}, nil
	})

	huma.Register(s.v1, s.tenantOp(huma.Operation{
		OperationID: "session-qr", Method: http.MethodGet, Path: "/sessions/qr.png", Tags: []string{"Sessões"},
		Summary:     "QR code da sessão como imagem PNG",
		Description: "O QR code atual de uma sessão do WhatsApp Web em pareamento, pronto para `<img>` (leia com fetch e os cabeçalhos de autenticação). O WhatsApp troca o código a cada ~20 s: o evento `session.qr` de `/events` avisa.",
		Errors:      []int{http.StatusNotFound},
		Responses: map[string]*huma.Response{"200": {Description: "PNG", Content: map[string]*huma.MediaType{
			"image/png": {Schema: &huma.Schema{Type: "string", Format: "binary"}}}}},
	}), func(ctx context.Context, in *struct {
		PhoneNumber string `query:"phoneNumber" required:"true" pattern:"^[0-9]{8,15}$"`
	}) (*huma.StreamResponse, error) {
		t := MustTenant(ctx)
		info, p := s.loadSession(ctx, t, in.PhoneNumber)
		if p != nil {
			return nil, p
		}
		if info.QRCode == "" || info.State != providers.StatePairing {
			return nil, errNotFound("qr_not_available", "A sessão não está mostrando QR code agora.")
		}
		png, err := qrPNG(info.QRCode)
		if err != nil {
			return nil, Internal(err)
		}
		return &huma.StreamResponse{Body: func(hctx huma.Context) {
			hctx.SetHeader("Content-Type", "image/png")
			hctx.SetHeader("Cache-Control", "no-store")
			_, _ = hctx.BodyWriter().Write(png)
		}}, nil
	})

	huma.Register(s.v1, s.tenantOp(huma.Operation{
		OperationID: "dashboard", Method: http.MethodGet, Path: "/dashboard", Tags: []string{"Painel"},
		Summary: "Números do painel do tenant",
		Description: "Taxa de sucesso de envio, tempo de resposta da IA, sessões ativas, mistura de provedores (WhatsApp Web × API oficial) " +
			"e latência de processamento, calculados das mesmas linhas que alimentam `/metrics`, com uma série por hora.",
	}), func(ctx context.Context, in *struct {
		Hours int `query:"hours" minimum:"1" maximum:"168" default:"24" doc:"Janela em horas"`
	}) (*struct{ Body Dashboard }, error) {
		d, err := s.dashboard(ctx, MustTenant(ctx).ID, in.Hours)
		if err != nil {
			return nil, Internal(err)
		}
		return &struct{ Body Dashboard }{d}, nil
	})
}

// qrPNG draws code as a PNG with a quiet zone, large enough to scan from a
// screen.
func qrPNG(code string) ([]byte, error) {
	c, err := qr.Encode(code, qr.L)
	if err != nil {
		return nil, err
	}
	c.Scale = 8
	return c.PNG(), nil
}

func (s *Server) sessionByID(ctx context.Context, t Tenant, id string) (SessionInfo, *Problem) {
	row, err := s.p.Store.Sessions().ByID(ctx, t.ID, id)
	if errors.Is(err, pgx.ErrNoRows) {
		return SessionInfo{}, errNotFound("session_not_found", "Sessão não encontrada neste tenant.")
	}
	if err != nil {
		return SessionInfo{}, Internal(err)
	}
	return sessionInfo(row), nil
}

func (s *Server) dashboard(ctx context.Context, tenantID string, hours int) (Dashboard, error) {
	d := Dashboard{Hours: hours, Sessions: map[string]int64{}, ProviderMix: map[string]int64{}, SessionProviders: map[string]int64{}}
	msgs := s.p.Store.Messages()
	tot, err := msgs.DashboardTotals(ctx, tenantID, hours)
	if err != nil {
		return d, err
	}
	d.Sent, d.Failed, d.InFlight, d.Received = tot.Sent, tot.Failed, tot.InFlight, tot.Received
	d.LatencyP50Ms, d.LatencyP95Ms, d.AIReplies = tot.LatencyP50Ms, tot.LatencyP95Ms, tot.AIReplies
	if d.Sent+d.Failed > 0 {
		r := float64(d.Sent) / float64(d.Sent+d.Failed)
		d.SuccessRate = &r
	}
	// AI response time: each AI reply against the latest inbound message of
	// its conversation before it.
	if d.AIResponseP50Ms, d.AIResponseP95Ms, err = msgs.AIResponseTimes(ctx, tenantID, hours); err != nil {
		return d, err
	}
	if d.ProviderMix, err = msgs.ProviderMix(ctx, tenantID, hours); err != nil {
		return d, err
	}
	if d.Sessions, err = s.p.Store.Sessions().CountActiveByState(ctx, tenantID); err != nil {
		return d, err
	}
	d.ActiveSessions = d.Sessions[providers.StateConnected]
	if d.SessionProviders, err = s.p.Store.Sessions().CountActiveByProvider(ctx, tenantID); err != nil {
		return d, err
	}
	series, err := msgs.HourlySeries(ctx, tenantID, hours)
	for _, p := range series {
		d.Series = append(d.Series, DashboardPoint(p))
	}
	return d, err
}
