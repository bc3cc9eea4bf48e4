package api_test

import (
	"context"
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
)

// The shapes a reader of the original spec sends to the message endpoints.
func TestMessagesSpecShapes(t *testing.T) {
	t.Parallel()
	e := newAgentsEnv(t)
	tid, uid := e.tenant("msg-spec", "owner")
	h := auth(hsToken(claims(uid, nil)), "msg-spec")
	ctx := context.Background()

	// send-bulk: recipients + plain text content.
	r := e.do("POST", "/api/v1/messages/send-bulk", h, map[string]any{"recipients": []string{"5511988880001", "5511988880002"}, "content": "Promoção!"})
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	out := r.json(t)
	require.EqualValues(t, 2, out["count"])
	var text string
	id0 := out["messages"].([]any)[0].(map[string]any)["messageId"].(string)
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT content->>'text' FROM messages WHERE id = $1 AND message_type = 'text'`, id0).Scan(&text))
	require.Equal(t, "Promoção!", text)
	// send-bulk: messages with a string content and no type.
	r = e.do("POST", "/api/v1/messages/send-bulk", h, map[string]any{"messages": []map[string]any{{"to": "5511988880003", "content": "Oi, Ana"}, {"to": "5511988880004", "content": "Oi, Bruno"}}})
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	p := e.do("POST", "/api/v1/messages/send-bulk", h, map[string]any{"recipients": []any{"5511988880001", 7}, "content": "x"}).problem(t, 422, "invalid_input")
	require.Contains(t, string(mustJSON(p["errors"])), "body.recipients[1]")
	p = e.do("POST", "/api/v1/messages/send-bulk", h, map[string]any{"messages": []map[string]any{{"to": "5511988880003", "type": "image", "content": "x"}}}).problem(t, 422, "invalid_input")
	require.Contains(t, string(mustJSON(p["errors"])), "body.messages[0].content")

	// media with mediaUrl + mediaType; audio with audioUrl.
	r = e.do("POST", "/api/v1/messages/media", h, map[string]any{"to": "5511988887777", "mediaUrl": "https://exemplo.com/foto.jpg", "mediaType": "image", "caption": "Vitrine"})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	mediaID := r.json(t)["messageId"].(string)
	r = e.do("POST", "/api/v1/messages/media", h, map[string]any{"to": "5511988887777", "mediaUrl": "https://exemplo.com/c.pdf", "mediaType": "application/pdf"})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	var typ string
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT message_type FROM messages WHERE id = $1`, r.json(t)["messageId"]).Scan(&typ))
	require.Equal(t, "document", typ)
	r = e.do("POST", "/api/v1/messages/audio", h, map[string]any{"to": "5511988887777", "audioUrl": "https://exemplo.com/nota.ogg"})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	audioID := r.json(t)["messageId"].(string)

	// agentId: the tenant's slug or the UUID; another tenant's slug is
	// not found.
	r = e.do("POST", "/api/v1/agents/create", h, map[string]any{"agentId": "real_estate_agent", "name": "Especialista em Imóveis", "type": "real_estate"})
	require.Equal(t, 201, r.status, string(r.body))
	agentUUID := r.json(t)["id"].(string)
	r = e.do("POST", "/api/v1/messages/text", h, map[string]any{"to": "5511977770000", "content": "Olá!", "enableAI": true, "agentId": "real_estate_agent"})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	textID := r.json(t)["messageId"].(string)
	var stored string
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT agent_id::text FROM messages WHERE id = $1 AND enable_ai`, textID).Scan(&stored))
	require.Equal(t, agentUUID, stored)
	_, other := e.tenant("msg-spec-other", "owner")
	ho := auth(hsToken(claims(other, nil)), "msg-spec-other")
	p = e.do("POST", "/api/v1/messages/text", ho, map[string]any{"to": "5511977770000", "content": "x", "agentId": "real_estate_agent"}).problem(t, 422, "agent_not_found")
	require.Contains(t, string(mustJSON(p["errors"])), "body.agentId")

	// Annex B: GET /messages/{messageId}, outbound text.
	r = e.do("GET", "/api/v1/messages/"+textID, h, nil)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	m := r.json(t)
	require.Equal(t, textID, m["id"])
	require.Equal(t, tid, m["tenantId"])
	require.Nil(t, m["sessionId"], "this test's fake sender picks no session; the e2e test sees a real one")
	require.Equal(t, "prov-"+textID, m["messageId"])
	require.Equal(t, "5511977770000", m["to"])
	require.Equal(t, "text", m["type"])
	require.Equal(t, map[string]any{"text": "Olá!", "mediaUrl": nil, "location": nil, "audio": nil}, m["content"])
	md := m["metadata"].(map[string]any)
	require.Equal(t, "sandbox", md["provider"])
	require.Equal(t, false, md["aiProcessed"])
	require.Equal(t, "real_estate_agent", md["agentId"])
	require.Equal(t, "sent", md["deliveryStatus"])
	require.NotEmpty(t, md["timestamp"])
	// By the provider id too; media and audio.
	r = e.do("GET", "/api/v1/messages/prov-"+textID, h, nil)
	require.Equal(t, textID, r.json(t)["id"])
	r = e.do("GET", "/api/v1/messages/"+mediaID, h, nil)
	c := r.json(t)["content"].(map[string]any)
	require.Equal(t, "Vitrine", c["text"])
	require.Equal(t, "https://exemplo.com/foto.jpg", c["mediaUrl"])
	r = e.do("GET", "/api/v1/messages/"+audioID, h, nil)
	c = r.json(t)["content"].(map[string]any)
	require.Equal(t, "https://exemplo.com/nota.ogg", c["audio"].(map[string]any)["url"])
	require.Equal(t, false, c["audio"].(map[string]any)["voice"])

	// Inbound location, answered by the agent already.
	var sessionID, inID string
	require.NoError(t, e.pool.QueryRow(ctx, `SELECT id::text FROM whatsapp_sessions WHERE tenant_id = $1`, tid).Scan(&sessionID))
	require.NoError(t, e.pool.QueryRow(ctx, `INSERT INTO messages (tenant_id, session_id, message_id, direction, from_number, message_type, content, status, provider, ai_processed)
VALUES ($1, $2, 'in-1', 'inbound', '5511977770000', 'location', '{"latitude": -23.56, "longitude": -46.65, "name": "MASP"}', 'received', 'sandbox', true)
RETURNING id::text`, tid, sessionID).Scan(&inID))
	r = e.do("GET", "/api/v1/messages/in-1", h, nil)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	m = r.json(t)
	require.Equal(t, inID, m["id"])
	require.Equal(t, "5511977770000", m["from"])
	require.Equal(t, "5511900000000", m["to"])
	require.Equal(t, map[string]any{"latitude": -23.56, "longitude": -46.65, "name": "MASP"}, m["content"].(map[string]any)["location"])
	md = m["metadata"].(map[string]any)
	require.Equal(t, true, md["aiProcessed"])
	require.Equal(t, "inbound", md["direction"])
	require.Equal(t, "received", md["deliveryStatus"])
	// Another tenant cannot read it.
	e.do("GET", "/api/v1/messages/"+inID, ho, nil).problem(t, 404, "message_not_found")
}

func mustJSON(v any) []byte { b, _ := json.Marshal(v); return b }
