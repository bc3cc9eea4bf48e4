package whatsmeow

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow/proto/waCommon"
	"go.mau.fi/whatsmeow/proto/waE2E"
	"go.mau.fi/whatsmeow/types"
	"go.mau.fi/whatsmeow/types/events"
	"google.golang.org/protobuf/proto"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
)

func TestUndecryptableMessageIsFilledInPlace(t *testing.T) {
	t.Parallel()
	var counted int
	f, _, c, sink, _ := connectedSession(t, func(cfg *Config) { cfg.OnUndecryptableFunc = func() { counted++ } })
	ev := msgEvent("3EB0LATE", nil)
	c.emit(&events.UndecryptableMessage{Info: ev.Info, DecryptFailMode: events.DecryptFailShow})
	sink.waitInbound(t)
	r := f.inboundRow(t, "3EB0LATE")
	require.Equal(t, string(zapbase.MessageUndecryptable), r.Type)
	require.Equal(t, contactPN, r.From)
	var raw map[string]any
	require.NoError(t, json.Unmarshal(r.Content.Raw, &raw))
	require.Equal(t, "aguardando_mensagem", raw["state"])
	require.Equal(t, UndecryptableText, raw["label"])
	require.Equal(t, 1, counted)

	// The retry brings the content: the same row, updated in place and
	// handed to the agents again.
	_, err := f.pool.Exec(context.Background(), `UPDATE public.messages SET ai_processed = true WHERE message_id = '3EB0LATE'`)
	require.NoError(t, err)
	c.emit(msgEvent("3EB0LATE", &waE2E.Message{Conversation: proto.String("chegou")}))
	require.Eventually(t, func() bool { return f.inboundRow(t, "3EB0LATE").Type == "text" }, 30*time.Second, 10*time.Millisecond)
	r = f.inboundRow(t, "3EB0LATE")
	require.Equal(t, "chegou", r.Content.Text)
	var n int
	var aiDone bool
	require.NoError(t, f.pool.QueryRow(context.Background(), `SELECT count(*), bool_or(ai_processed) FROM public.messages WHERE message_id = '3EB0LATE'`).Scan(&n, &aiDone))
	require.Equal(t, 1, n)
	require.False(t, aiDone)
}

type editRow struct {
	Text     string
	EditedAt *time.Time
	History  []map[string]any
	Revoked  *time.Time
}

func (f *fixture) editRow(t *testing.T, id string) editRow {
	t.Helper()
	var r editRow
	var hist []byte
	require.NoError(t, f.pool.QueryRow(context.Background(), `
SELECT coalesce(content->>'text', content->>'caption', ''), edited_at, edit_history, revoked_at FROM public.messages
 WHERE tenant_id = $1 AND message_id = $2`, f.tenant, id).Scan(&r.Text, &r.EditedAt, &hist, &r.Revoked))
	require.NoError(t, json.Unmarshal(hist, &r.History))
	return r
}

func TestInboundEditsAndRevokesChangeTheRow(t *testing.T) {
	t.Parallel()
	f, _, c, sink, _ := connectedSession(t)
	c.emit(msgEvent("3EB0ORIG", &waE2E.Message{Conversation: proto.String("original")}))
	sink.waitInbound(t)

	// The new form: SecretEncryptedMessage(MESSAGE_EDIT), decrypted with
	// the original message's secret.
	payload, err := proto.Marshal(&waE2E.Message{Conversation: proto.String("editada")})
	require.NoError(t, err)
	edit := msgEvent("3EB0EDIT1", &waE2E.Message{SecretEncryptedMessage: &waE2E.SecretEncryptedMessage{
		TargetMessageKey: &waCommon.MessageKey{ID: proto.String("3EB0ORIG")},
		EncPayload:       payload, EncIV: []byte("iv"),
		SecretEncType: waE2E.SecretEncryptedMessage_MESSAGE_EDIT.Enum(),
	}})
	edit.Info.Timestamp = time.Unix(1767225700, 0)
	c.emit(edit)
	require.Eventually(t, func() bool { return f.editRow(t, "3EB0ORIG").Text == "editada" }, 30*time.Second, 10*time.Millisecond)
	r := f.editRow(t, "3EB0ORIG")
	require.NotNil(t, r.EditedAt)
	require.True(t, r.EditedAt.Equal(time.Unix(1767225700, 0)))
	require.Len(t, r.History, 1)
	require.Equal(t, "original", r.History[0]["content"].(map[string]any)["text"])

	// The older form (ProtocolMessage MESSAGE_EDIT) edits again.
	edit2 := msgEvent("3EB0EDIT2", &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_MESSAGE_EDIT.Enum(),
		Key: &waCommon.MessageKey{ID: proto.String("3EB0ORIG")}, EditedMessage: &waE2E.Message{Conversation: proto.String("de novo")}}})
	edit2.Info.Timestamp = time.Unix(1767225800, 0)
	c.emit(edit2)
	require.Eventually(t, func() bool { return f.editRow(t, "3EB0ORIG").Text == "de novo" }, 30*time.Second, 10*time.Millisecond)
	require.Len(t, f.editRow(t, "3EB0ORIG").History, 2)

	// Deleted for everyone: the row stays, marked.
	c.emit(msgEvent("3EB0DEL", &waE2E.Message{ProtocolMessage: &waE2E.ProtocolMessage{Type: waE2E.ProtocolMessage_REVOKE.Enum(),
		Key: &waCommon.MessageKey{ID: proto.String("3EB0ORIG")}}}))
	require.Eventually(t, func() bool { return f.editRow(t, "3EB0ORIG").Revoked != nil }, 30*time.Second, 10*time.Millisecond)
	var n int
	require.NoError(t, f.pool.QueryRow(context.Background(), `SELECT count(*) FROM public.messages WHERE message_id IN ('3EB0EDIT1', '3EB0EDIT2', '3EB0DEL')`).Scan(&n))
	require.Zero(t, n, "edits and deletions change the target row, they add none")
}

func TestOutboundEditAndRevoke(t *testing.T) {
	t.Parallel()
	_, p, c, _, id := connectedSession(t)
	ctx := context.Background()
	_, err := p.EditMessage(ctx, providers.EditParams{SessionID: id, Chat: contactPN + "@s.whatsapp.net", ProviderMessageID: "3EB0MINE", Type: zapbase.MessageText, Text: "corrigido"})
	require.NoError(t, err)
	c.mu.Lock()
	m := c.sent[len(c.sent)-1]
	c.mu.Unlock()
	pm := m.Msg.GetEditedMessage().GetMessage().GetProtocolMessage()
	require.Equal(t, waE2E.ProtocolMessage_MESSAGE_EDIT, pm.GetType())
	require.Equal(t, "3EB0MINE", pm.GetKey().GetID())
	require.True(t, pm.GetKey().GetFromMe())
	require.Equal(t, "corrigido", pm.GetEditedMessage().GetConversation())
	require.Equal(t, types.NewJID(contactPN, types.DefaultUserServer), m.To)

	_, err = p.EditMessage(ctx, providers.EditParams{SessionID: id, Chat: contactPN, ProviderMessageID: "3EB0MINE", Type: zapbase.MessageImage, Text: "x"})
	var perm *providers.PermanentError
	require.ErrorAs(t, err, &perm)
	require.Equal(t, string(zapbase.CodeUnsupportedByProvider), perm.Code)

	require.NoError(t, p.RevokeMessage(ctx, providers.RevokeParams{SessionID: id, Chat: contactPN, ProviderMessageID: "3EB0MINE"}))
	c.mu.Lock()
	m = c.sent[len(c.sent)-1]
	c.mu.Unlock()
	require.Equal(t, waE2E.ProtocolMessage_REVOKE, m.Msg.GetProtocolMessage().GetType())
	require.Equal(t, "3EB0MINE", m.Msg.GetProtocolMessage().GetKey().GetID())
}

// In LID-addressed groups whatsmeow fills SenderAlt from the stanza's
// participant_pn: the row's sender is the phone number, linked to the LID.
func TestGroupSenderAltFromParticipantPN(t *testing.T) {
	t.Parallel()
	f, _, c, sink, id := connectedSession(t)
	lid, _ := types.ParseJID(contactLID)
	group := types.NewJID("120363000000000001", types.GroupServer)
	c.emit(&events.Message{Info: types.MessageInfo{MessageSource: types.MessageSource{
		Chat: group, Sender: lid, SenderAlt: types.NewJID(contactPN, types.DefaultUserServer), IsGroup: true,
		AddressingMode: types.AddressingModeLID,
	}, ID: "3EB0GROUP", Timestamp: time.Unix(1767225600, 0)}, Message: &waE2E.Message{Conversation: proto.String("oi grupo")}})
	sink.waitInbound(t)
	r := f.inboundRow(t, "3EB0GROUP")
	require.Equal(t, contactPN, r.From)
	require.Equal(t, contactLID, r.Meta["fromAlt"])
	require.Equal(t, group.String(), r.Meta["chat"])
	var pn string
	require.NoError(t, f.pool.QueryRow(context.Background(), `SELECT phone_number FROM wa.contact_identities WHERE session_id = $1 AND lid = $2`, id, contactLID).Scan(&pn))
	require.Equal(t, contactPN, pn)
}
