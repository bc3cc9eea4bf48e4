package ai_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/ai"
	"github.com/zapbase/zapbase/ai/aitest"
	"github.com/zapbase/zapbase/providers"
)

const contact = "5511988887777"

func TestDebounceBurstMakesOneTurn(t *testing.T) {
	e := newEnv(t)
	e.customAgent()
	model := &aitest.ScriptedModel{}
	e.start(ai.RuntimeParams{Backends: withModel(model), Config: ai.RuntimeConfig{DebounceWindow: 3 * time.Second}})

	e.inbound(contact, "Oi")
	e.clock.Advance(time.Second)
	e.inbound(contact, "tudo bem?")
	e.clock.Advance(time.Second)
	e.inbound(contact, "quero saber o horário de vocês")
	require.Equal(t, 0, model.Calls(), "no turn before the window closes")

	e.clock.Advance(3 * time.Second)
	r := e.waitOutcome()
	require.Equal(t, ai.OutcomeReplied, r.Outcome)
	require.Equal(t, 3, r.Handled)
	require.Equal(t, 1, model.Calls())
	require.Len(t, e.replies(), 1)
	require.Equal(t, 0, e.unprocessed())
	msgs := model.Requests()[0].Messages
	require.Equal(t, "Oi\ntudo bem?\nquero saber o horário de vocês", msgs[len(msgs)-1].Text)
}

func TestReplyRowAndMemory(t *testing.T) {
	e := newEnv(t)
	agent := e.customAgent()
	model := &aitest.ScriptedModel{}
	e.start(ai.RuntimeParams{Backends: withModel(model)})
	e.inbound(contact, "primeira")
	require.Equal(t, ai.OutcomeReplied, e.waitOutcome().Outcome)
	e.inbound(contact, "segunda")
	require.Equal(t, ai.OutcomeReplied, e.waitOutcome().Outcome)

	rs := e.replies()
	require.Len(t, rs, 2)
	require.Equal(t, "resposta 1", rs[0].Text)
	require.Equal(t, contact, rs[0].To)
	require.Equal(t, e.phone, rs[0].From)
	require.Equal(t, "sandbox", rs[0].Provider)
	require.Equal(t, "pending", rs[0].Status)
	require.Equal(t, agent.ID, *rs[0].AgentID)
	// The second call saw the first exchange as history.
	second := model.Requests()[1].Messages
	require.Len(t, second, 3)
	require.Equal(t, "primeira", second[0].Text)
	require.Equal(t, "resposta 1", second[1].Text)
	require.Equal(t, "segunda", second[2].Text)
}

func TestCrashBetweenAnswerAndInsertRedoesExactlyOnce(t *testing.T) {
	e := newEnv(t)
	e.customAgent()
	model := &aitest.ScriptedModel{}
	crash := errors.New("simulated crash before the reply transaction")
	e.beforeCommit = func(context.Context, string) error { return crash }
	rt1 := e.start(ai.RuntimeParams{Backends: withModel(model)})
	e.inbound(contact, "Quero ver apartamentos")
	r := e.waitOutcome()
	require.Equal(t, ai.OutcomeAborted, r.Outcome)
	require.Equal(t, 1, model.Calls())
	require.Empty(t, e.replies())
	require.Equal(t, 1, e.unprocessed())
	rt1.Stop()

	// Restart: the recovery scan finds the unhandled row and redoes the turn.
	e.start(ai.RuntimeParams{Backends: withModel(model)})
	require.Equal(t, ai.OutcomeReplied, e.waitOutcome().Outcome)
	require.Equal(t, 2, model.Calls())
	require.Len(t, e.replies(), 1)
	require.Equal(t, 0, e.unprocessed())

	// Another restart finds nothing left to do.
	e.start(ai.RuntimeParams{Backends: withModel(model)})
	require.Len(t, e.replies(), 1)
	require.Equal(t, 2, model.Calls())
}

func TestConcurrentTurnsOnTwoReplicasReplyOnce(t *testing.T) {
	e := newEnv(t)
	e.customAgent()
	// Both replicas' model calls wait for each other, so both turns reach
	// the reply transaction with the same inbound rows.
	var wg sync.WaitGroup
	wg.Add(2)
	model := &aitest.ScriptedModel{Func: func(n int, _ ai.Request) (ai.Response, error) {
		wg.Done()
		wg.Wait()
		return ai.Response{Text: "resposta"}, nil
	}}
	rtA := e.start(ai.RuntimeParams{Backends: withModel(model)})
	rtB := e.start(ai.RuntimeParams{Backends: withModel(model)})
	e.events.OnInboundFunc = nil
	e.inbound(contact, "olá")
	ids := []string{}
	rows, err := e.pool.Query(context.Background(), `SELECT id FROM messages WHERE direction = 'inbound'`)
	require.NoError(t, err)
	for rows.Next() {
		var id string
		require.NoError(t, rows.Scan(&id))
		ids = append(ids, id)
	}
	require.NoError(t, rtA.HandleInbound(context.Background(), ids))
	require.NoError(t, rtB.HandleInbound(context.Background(), ids))
	outcomes := []string{e.waitOutcome().Outcome, e.waitOutcome().Outcome}
	require.ElementsMatch(t, []string{ai.OutcomeReplied, ai.OutcomeDuplicate}, outcomes)
	require.Len(t, e.replies(), 1)
}

func TestOperatorMessagePausesThenResumes(t *testing.T) {
	e := newEnv(t)
	e.customAgent()
	model := &aitest.ScriptedModel{}
	e.start(ai.RuntimeParams{Backends: withModel(model), Config: ai.RuntimeConfig{PauseAfterHuman: 30 * time.Minute}})
	e.inbound(contact, "oi")
	require.Equal(t, ai.OutcomeReplied, e.waitOutcome().Outcome)

	// An operator answers from the frontend: an outbound row without agent_id.
	_, err := e.pool.Exec(context.Background(), `INSERT INTO messages (tenant_id, session_id, direction, from_number, to_number, content, provider)
VALUES ($1, $2, 'outbound', $3, $4, '{"text":"Aqui é a Ana, posso ajudar?"}', 'sandbox')`, e.tenantID, e.session, e.phone, contact)
	require.NoError(t, err)

	e.inbound(contact, "sim, por favor")
	require.Equal(t, ai.OutcomePaused, e.waitOutcome().Outcome)
	require.Equal(t, ai.StatePaused, e.convState(contact))
	require.Len(t, e.replies(), 1)
	require.Equal(t, 0, e.unprocessed(), "the operator handles messages during the pause")

	e.clock.Advance(31 * time.Minute)
	e.inbound(contact, "ainda tem alguém aí?")
	require.Equal(t, ai.OutcomeReplied, e.waitOutcome().Outcome)
	require.Equal(t, ai.StateActive, e.convState(contact))
	require.Len(t, e.replies(), 2)
	require.Equal(t, 2, model.Calls())
}

func TestHandoffKeyword(t *testing.T) {
	e := newEnv(t)
	e.customAgent()
	model := &aitest.ScriptedModel{}
	e.start(ai.RuntimeParams{Backends: withModel(model)})
	e.inbound(contact, "Quero falar com um ATENDENTE, por favor")
	require.Equal(t, ai.OutcomeHandoff, e.waitOutcome().Outcome)
	require.Equal(t, 0, model.Calls())
	rs := e.replies()
	require.Len(t, rs, 1)
	require.Equal(t, ai.DefaultHandoffMessage, rs[0].Text)
	require.Equal(t, ai.StateHandoff, e.convState(contact))

	e.inbound(contact, "alô?")
	require.Equal(t, ai.OutcomePaused, e.waitOutcome().Outcome)
	require.Len(t, e.replies(), 1)
}

func TestHandoffTool(t *testing.T) {
	e := newEnv(t)
	e.customAgent()
	model := &aitest.ScriptedModel{Func: func(n int, req ai.Request) (ai.Response, error) {
		if n == 1 {
			return ai.Response{ToolCalls: []ai.ToolCall{{ID: "c1", Name: ai.ToolHandoff, Args: []byte(`{"reason":"cliente irritado"}`)}}}, nil
		}
		return ai.Response{Text: "Entendo. Um atendente vai falar com você."}, nil
	}}
	e.start(ai.RuntimeParams{Backends: withModel(model)})
	e.inbound(contact, "isso é um absurdo")
	require.Equal(t, ai.OutcomeHandoff, e.waitOutcome().Outcome)
	require.Equal(t, "Entendo. Um atendente vai falar com você.", e.replies()[0].Text)
	require.Equal(t, ai.StateHandoff, e.convState(contact))
}

func TestConsecutiveReplyCapStopsLoops(t *testing.T) {
	e := newEnv(t)
	e.customAgent()
	model := &aitest.ScriptedModel{}
	e.start(ai.RuntimeParams{Backends: withModel(model), Config: ai.RuntimeConfig{MaxConsecutiveReplies: 3}})
	// Another bot answering every reply at once.
	for i := range 3 {
		e.inbound(contact, "mensagem automática "+string(rune('A'+i)))
		require.Equal(t, ai.OutcomeReplied, e.waitOutcome().Outcome)
	}
	e.inbound(contact, "mensagem automática D")
	require.Equal(t, ai.OutcomeHandoff, e.waitOutcome().Outcome)
	e.inbound(contact, "mensagem automática E")
	require.Equal(t, ai.OutcomePaused, e.waitOutcome().Outcome)
	require.Equal(t, 3, model.Calls())
	require.Len(t, e.replies(), 4)
}

func TestTokenBudgetExhaustionHandsOff(t *testing.T) {
	e := newEnv(t)
	e.customAgent()
	budget := int64(100)
	require.NoError(t, e.svc.SetDailyTokenBudget(context.Background(), e.tenantID, &budget))
	model := &aitest.ScriptedModel{Func: func(int, ai.Request) (ai.Response, error) {
		return ai.Response{Text: "resposta cara", Usage: ai.Usage{InputTokens: 80, OutputTokens: 30}}, nil
	}}
	e.start(ai.RuntimeParams{Backends: withModel(model)})
	e.inbound(contact, "primeira pergunta")
	require.Equal(t, ai.OutcomeReplied, e.waitOutcome().Outcome)
	e.inbound(contact, "segunda pergunta")
	require.Equal(t, ai.OutcomeHandoff, e.waitOutcome().Outcome, "budget exhausted: handoff, not silence")
	require.Equal(t, 1, model.Calls())
	rs := e.replies()
	require.Len(t, rs, 2)
	require.Equal(t, ai.DefaultHandoffMessage, rs[1].Text)
	var in, out int64
	require.NoError(t, e.pool.QueryRow(context.Background(), `SELECT tokens_in, tokens_out FROM wa.ai_usage_daily WHERE tenant_id = $1`, e.tenantID).Scan(&in, &out))
	require.Equal(t, []int64{80, 30}, []int64{in, out})
}

func TestNeverAnswersOwnGroupOrBroadcastMessages(t *testing.T) {
	e := newEnv(t)
	e.customAgent()
	model := &aitest.ScriptedModel{}
	e.start(ai.RuntimeParams{Backends: withModel(model)})
	e.inbound(contact, "enviada do celular do dono", func(m *providers.InboundMessage) { m.FromMe = true })
	e.inbound(contact, "status", func(m *providers.InboundMessage) { m.Chat = "status@broadcast" })
	e.inbound(contact, "no grupo", func(m *providers.InboundMessage) { m.IsGroup = true; m.Chat = "120363000000000000@g.us" })
	require.Equal(t, 0, e.unprocessed(), "all three are handled without a turn")
	require.Equal(t, 0, model.Calls())
	require.Empty(t, e.replies())
}

func TestModelRateLimitRetriesAfterDelay(t *testing.T) {
	e := newEnv(t)
	e.customAgent()
	srv := aitest.NewGemini()
	defer srv.Close()
	srv.Enqueue(aitest.GeminiError(429, "RESOURCE_EXHAUSTED", "quota", "20s"), aitest.GeminiText("Olá!", 10, 2))
	e.start(ai.RuntimeParams{Backends: geminiBackends(), GlobalModels: []ai.ModelSpec{{Backend: ai.BackendGemini, APIKey: "k", BaseURL: srv.URL}}})
	e.inbound(contact, "oi")
	require.Equal(t, ai.OutcomeRetry, e.waitOutcome().Outcome)
	require.Equal(t, 1, e.unprocessed())
	e.clock.Advance(20 * time.Second)
	require.Equal(t, ai.OutcomeReplied, e.waitOutcome().Outcome)
	require.Equal(t, "Olá!", e.replies()[0].Text)
}

func TestPermanentModelErrorHandsOff(t *testing.T) {
	e := newEnv(t)
	e.customAgent()
	srv := aitest.NewOpenAI()
	defer srv.Close()
	srv.Enqueue(aitest.OpenAIError(401, "invalid_request_error", "invalid_api_key", "Incorrect API key provided", ""))
	e.start(ai.RuntimeParams{Backends: geminiBackends(), GlobalModels: []ai.ModelSpec{{Backend: ai.BackendOpenAI, APIKey: "bad", BaseURL: srv.URL}}})
	e.inbound(contact, "oi")
	r := e.waitOutcome()
	require.Equal(t, ai.OutcomeHandoff, r.Outcome)
	require.Error(t, r.Err)
	require.True(t, strings.Contains(e.replies()[0].Text, "atendente"))
}
