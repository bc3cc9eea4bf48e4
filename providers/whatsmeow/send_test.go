package whatsmeow

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"regexp"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mau.fi/whatsmeow"
	"go.mau.fi/whatsmeow/types"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
)

func TestSendBuildsWhatsAppMessages(t *testing.T) {
	t.Parallel()
	f, p, c, _, id := connectedSession(t, func(cfg *Config) { cfg.FFmpegPath = "" })
	p.ffmpeg = "" // the test machine may or may not have ffmpeg: force "absent"
	ctx := context.Background()
	_, err := f.pool.Exec(ctx, `
INSERT INTO public.messages (tenant_id, session_id, message_id, direction, from_number, status, provider)
VALUES ($1, $2, '3EB0FROMCONTACT', 'inbound', $3, 'received', 'baileys')`, f.tenant, id, contactPN)
	require.NoError(t, err)
	media := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/photo.jpg":
			w.Header().Set("Content-Type", "image/jpeg")
			fmt.Fprint(w, "\xff\xd8\xff\xe0jpeg")
		case "/voice.mp3":
			w.Header().Set("Content-Type", "audio/mpeg")
			fmt.Fprint(w, "ID3mp3")
		case "/voice.ogg":
			w.Header().Set("Content-Type", "audio/ogg")
			fmt.Fprint(w, "OggS\x00\x02OpusHead....")
		default:
			http.NotFound(w, r)
		}
	}))
	defer media.Close()
	send := func(typ zapbase.MessageType, to string, ct providers.Content) (providers.SendResult, error) {
		return p.Send(ctx, providers.OutboundMessage{TenantID: f.tenant, SessionID: id, To: to, Type: typ, Content: ct, ProviderMessageID: p.NewMessageID()})
	}
	last := func() sentMessage {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.sent[len(c.sent)-1]
	}

	// Text replying to the contact's message, to a phone number.
	res, err := send(zapbase.MessageText, "+55 11 97777-6666", providers.Content{Text: "olá", ReplyTo: "3EB0FROMCONTACT"})
	require.NoError(t, err)
	require.Regexp(t, regexp.MustCompile(`^3EB0[0-9A-F]{18}$`), res.ProviderMessageID)
	m := last()
	require.Equal(t, res.ProviderMessageID, m.ID) // the caller's id reaches WhatsApp
	require.Equal(t, types.NewJID(contactPN, types.DefaultUserServer), m.To)
	require.Equal(t, "olá", m.Msg.GetExtendedTextMessage().GetText())
	require.Equal(t, "3EB0FROMCONTACT", m.Msg.GetExtendedTextMessage().GetContextInfo().GetStanzaID())

	// To a LID.
	_, err = send(zapbase.MessageText, contactLID, providers.Content{Text: "oi"})
	require.NoError(t, err)
	require.Equal(t, types.HiddenUserServer, last().To.Server)
	require.Equal(t, "oi", last().Msg.GetConversation())

	// Image by URL: uploaded, then referenced.
	_, err = send(zapbase.MessageImage, contactPN, providers.Content{MediaURL: media.URL + "/photo.jpg", Caption: "foto"})
	require.NoError(t, err)
	im := last().Msg.GetImageMessage()
	require.Equal(t, "foto", im.GetCaption())
	require.Equal(t, "image/jpeg", im.GetMimetype())
	require.Equal(t, "/v/t62/x", im.GetDirectPath())
	require.Equal(t, whatsmeow.MediaImage, c.uploads[len(c.uploads)-1])

	// Voice: OGG/Opus passes; anything else is refused clearly without ffmpeg.
	_, err = send(zapbase.MessageVoice, contactPN, providers.Content{MediaURL: media.URL + "/voice.ogg"})
	require.NoError(t, err)
	require.True(t, last().Msg.GetAudioMessage().GetPTT())
	require.Equal(t, voiceMime, last().Msg.GetAudioMessage().GetMimetype())
	_, err = send(zapbase.MessageVoice, contactPN, providers.Content{MediaURL: media.URL + "/voice.mp3"})
	var perm *providers.PermanentError
	require.ErrorAs(t, err, &perm)
	require.Equal(t, CodeVoiceFormat, perm.Code)
	require.Contains(t, perm.Reason, "ffmpeg")

	// Location, contacts, reaction to our own message.
	lat, lng := -23.5, -46.6
	_, err = send(zapbase.MessageLocation, contactPN, providers.Content{Latitude: &lat, Longitude: &lng, Name: "Escritório"})
	require.NoError(t, err)
	require.InDelta(t, lat, last().Msg.GetLocationMessage().GetDegreesLatitude(), 1e-9)
	_, err = send(zapbase.MessageContacts, contactPN, providers.Content{Contacts: []providers.ContactCard{{Name: "Ana", Phones: []string{"+55 11 95555-0000"}}}})
	require.NoError(t, err)
	require.Contains(t, last().Msg.GetContactMessage().GetVcard(), "waid=5511955550000")
	_, err = send(zapbase.MessageReaction, contactPN, providers.Content{Emoji: "❤️", TargetMessageID: res.ProviderMessageID})
	require.NoError(t, err)
	_, err = f.pool.Exec(ctx, `INSERT INTO public.messages (tenant_id, session_id, message_id, direction, to_number, status, provider)
VALUES ($1, $2, $3, 'outbound', $4, 'sent', 'baileys')`, f.tenant, id, "3EB0MINE", contactPN)
	require.NoError(t, err)
	_, err = send(zapbase.MessageReaction, contactPN, providers.Content{Emoji: "❤️", TargetMessageID: "3EB0MINE"})
	require.NoError(t, err)
	require.True(t, last().Msg.GetReactionMessage().GetKey().GetFromMe())

	// Read marks and typing.
	require.NoError(t, p.MarkRead(ctx, providers.MarkReadParams{TenantID: f.tenant, SessionID: id, Chat: contactPN, ProviderMessageIDs: []string{"3EB0FROMCONTACT"}}))
	require.Equal(t, []string{"3EB0FROMCONTACT"}, c.marked[0])
	require.NoError(t, p.SetTyping(ctx, id, contactPN, true))
	require.Equal(t, []bool{true}, c.presence)

	// Unsupported and invalid input are permanent.
	_, err = send(zapbase.MessageTemplate, contactPN, providers.Content{})
	require.ErrorAs(t, err, &perm)
	require.ErrorIs(t, err, providers.ErrUnsupported)
	_, err = send(zapbase.MessageText, "abc", providers.Content{Text: "x"})
	require.ErrorAs(t, err, &perm)
	require.Equal(t, CodeInvalidRecipient, perm.Code)

	// Server errors are classified.
	c.mu.Lock()
	c.sendErr = fmt.Errorf("%w %d", whatsmeow.ErrServerReturnedError, 463)
	c.mu.Unlock()
	_, err = send(zapbase.MessageText, contactPN, providers.Content{Text: "x"})
	var unavailable *providers.SessionUnavailableError
	require.ErrorAs(t, err, &unavailable)
	require.Equal(t, providers.StateTimelocked, unavailable.State)
}

func TestSendOnSessionNotDrivenHere(t *testing.T) {
	t.Parallel()
	f := newFixture(t)
	id := f.addSession(t, ownPN, ownPN+"@s.whatsapp.net")
	// Another replica holds the lease.
	_, err := f.pool.Exec(context.Background(), `INSERT INTO wa.session_leases (session_id, holder, expires_at) VALUES ($1, 'elsewhere', now() + interval '1 hour')`, id)
	require.NoError(t, err)
	p := f.provider(t, &fakeDevices{}, newSignalSink(f.pool))
	_, err = p.Send(context.Background(), providers.OutboundMessage{TenantID: f.tenant, SessionID: id, To: contactPN, Type: zapbase.MessageText, Content: providers.Content{Text: "oi"}})
	var unavailable *providers.SessionUnavailableError
	require.ErrorAs(t, err, &unavailable)
	require.Equal(t, "not_owner", unavailable.State)
	require.False(t, p.Owns(id))
	// Initialize on a non-owner answers the persisted state.
	st, err := p.Initialize(context.Background(), providers.InitializeParams{TenantID: f.tenant, SessionID: id})
	require.NoError(t, err)
	require.Equal(t, providers.StateConnected, st.State)
}

func TestClassifySendError(t *testing.T) {
	t.Parallel()
	until := time.Now().Add(time.Hour)
	var (
		retry *providers.RetryableError
		perm  *providers.PermanentError
		auth  *providers.AuthLostError
		unav  *providers.SessionUnavailableError
		rate  *providers.RateLimitedError
	)
	tests := []struct {
		name   string
		err    error
		target any
		code   string
	}{
		{"timeout", whatsmeow.ErrMessageTimedOut, &retry, ""},
		{"deadline", context.DeadlineExceeded, &retry, ""},
		{"not connected", whatsmeow.ErrNotConnected, &unav, ""},
		{"not logged in", whatsmeow.ErrNotLoggedIn, &auth, CodeLoggedOut},
		{"device jid", whatsmeow.ErrRecipientADJID, &perm, CodeInvalidRecipient},
		{"not on whatsapp", errors.New("failed to x: no LID found for 55119@s.whatsapp.net from server"), &perm, CodeNotOnWhatsApp},
		{"timelock 463", fmt.Errorf("send: %w %d", whatsmeow.ErrServerReturnedError, 463), &unav, ""},
		{"479", fmt.Errorf("%w %d", whatsmeow.ErrServerReturnedError, 479), &perm, "server_rejected:479"},
		{"429", fmt.Errorf("%w %d", whatsmeow.ErrServerReturnedError, 429), &rate, ""},
		{"500", fmt.Errorf("%w %d", whatsmeow.ErrServerReturnedError, 500), &retry, ""},
		{"rate iq", whatsmeow.ErrIQRateOverLimit, &rate, ""},
		{"already classified", &providers.PermanentError{Code: "x"}, &perm, "x"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := classifySendError(tc.err, &until)
			require.ErrorAs(t, got, tc.target)
			switch e := tc.target.(type) {
			case **providers.PermanentError:
				require.Equal(t, tc.code, (*e).Code)
			case **providers.AuthLostError:
				require.Equal(t, tc.code, (*e).Code)
			}
		})
	}
}

func TestParseRecipient(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"5511977776666", "5511977776666@s.whatsapp.net", true},
		{"+55 (11) 97777-6666", "5511977776666@s.whatsapp.net", true},
		{"123456789012345@lid", "123456789012345@lid", true},
		{"5511977776666:3@s.whatsapp.net", "5511977776666@s.whatsapp.net", true},
		{"120363000000000000@g.us", "120363000000000000@g.us", true},
		{"011977776666", "", false},
		{"1234", "", false},
		{"abc", "", false},
		{"x@newsletter", "", false},
		{"", "", false},
	}
	for _, tc := range tests {
		got, err := parseRecipient(tc.in)
		if !tc.ok {
			require.Error(t, err, tc.in)
			continue
		}
		require.NoError(t, err, tc.in)
		require.Equal(t, tc.want, got.String())
	}
}
