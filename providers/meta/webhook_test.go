package meta_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/providers"
	"github.com/zapbase/zapbase/providers/meta"
	"github.com/zapbase/zapbase/providers/meta/metafake"
)

func TestVerifyHandshake(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	var c struct {
		Requests []struct {
			Query          map[string]string `json:"query"`
			ExpectedStatus int               `json:"expected_status"`
			ExpectedBody   *string           `json:"expected_body"`
			MustNotEqual   *string           `json:"expected_body_must_not_equal"`
			ContentType    string            `json:"expected_content_type"`
		} `json:"requests"`
	}
	require.NoError(t, json.Unmarshal(metafake.Fixture("webhook_verify_handshake_case.json"), &c))
	require.Len(t, c.Requests, 3)
	for _, r := range c.Requests {
		q := url.Values{}
		for k, v := range r.Query {
			q.Set(k, v)
		}
		resp, err := http.Get(e.web.URL + "?" + q.Encode())
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, r.ExpectedStatus, resp.StatusCode, r.Query)
		if r.ExpectedBody != nil {
			require.Equal(t, *r.ExpectedBody, string(body))
		}
		if r.MustNotEqual != nil {
			require.NotEqual(t, *r.MustNotEqual, string(body))
		}
		if r.ContentType != "" {
			require.True(t, strings.HasPrefix(resp.Header.Get("Content-Type"), r.ContentType))
		}
	}
}

func TestSignatureOverRawEscapedBytes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	raw := metafake.Fixture("webhook_signed_unicode_raw.json")
	var c struct {
		AppSecret string `json:"app_secret"`
		Expected  string `json:"expected_header"`
		Tampered  string `json:"tampered_header_example"`
	}
	require.NoError(t, json.Unmarshal(metafake.Fixture("webhook_signature_case.json"), &c))
	require.Equal(t, appSecret, c.AppSecret)
	require.True(t, bytes.Contains(raw, []byte(`\u00e1`)) && bytes.Contains(raw, []byte(`\ud83d\ude00`)), "fixture keeps Meta's escapes")
	require.Equal(t, c.Expected, meta.Sign(appSecret, raw))

	// Re-serialising (decoded UTF-8) changes the bytes, so the signature.
	var v any
	require.NoError(t, json.Unmarshal(raw, &v))
	var reser bytes.Buffer
	enc := json.NewEncoder(&reser)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(v))
	require.NotEqual(t, c.Expected, meta.Sign(appSecret, bytes.TrimSpace(reser.Bytes())))

	require.Equal(t, http.StatusUnauthorized, e.post(raw, c.Tampered))
	require.Equal(t, http.StatusUnauthorized, e.post(reser.Bytes(), c.Expected))
	require.Zero(t, e.count(`SELECT count(*) FROM wa.webhook_inbox`))

	require.Equal(t, http.StatusOK, e.post(raw, c.Expected))
	e.drain()
	var text string
	require.NoError(t, e.pool.QueryRow(e.ctx, `SELECT content->>'text' FROM public.messages WHERE direction = 'inbound'`).Scan(&text))
	require.Equal(t, "Olá! Já paguei o pedido 😀 — obrigado, ação concluída", text)
	var stored []byte
	require.NoError(t, e.pool.QueryRow(e.ctx, `SELECT payload FROM wa.webhook_inbox`).Scan(&stored))
	require.Equal(t, raw, stored, "inbox keeps the exact raw bytes")
}

func TestForgedSignaturesRejectedNothingStored(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	body := metafake.Fixture("webhook_text.json")
	good := meta.Sign(appSecret, body)
	for name, sig := range map[string]string{
		"missing":      "",
		"wrong secret": meta.Sign("not-the-app-secret", body),
		"forged":       "sha256=" + strings.Repeat("ab", 32),
		"sha1 prefix":  strings.Replace(good, "sha256=", "sha1=", 1),
		"truncated":    good[:len(good)-2],
		"not hex":      "sha256=" + strings.Repeat("zz", 32),
	} {
		require.Equal(t, http.StatusUnauthorized, e.post(body, sig), name)
	}
	// A valid signature over a different body.
	require.Equal(t, http.StatusUnauthorized, e.post(append(bytes.Clone(body), ' '), good))
	// A payload for a number nobody configured cannot be verified: it is
	// acknowledged (Meta would retry a non-200 for 7 days) and counted,
	// never stored or processed.
	unknown := bytes.ReplaceAll(body, []byte(pnid), []byte("100000000000001"))
	require.Equal(t, http.StatusOK, e.post(unknown, meta.Sign(appSecret, unknown)))
	require.Equal(t, http.StatusOK, e.post(unknown, meta.Sign("anything", unknown)))
	require.Zero(t, e.count(`SELECT count(*) FROM wa.webhook_inbox`))
	require.Zero(t, e.count(`SELECT count(*) FROM public.messages`))
	require.Equal(t, 2, e.count(`SELECT deliveries::int FROM wa.meta_unrouted_webhooks WHERE entry_id = '100000000000001' AND field = 'messages'`))
	require.EqualValues(t, 2, e.prov.UnroutedWebhooks())
}

func TestInboundFixturesBecomeRows(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	e.fake.AddMedia("1479537139650973", metafake.Media{Data: []byte("jpeg-bytes"), MimeType: "image/jpeg"})
	e.fake.AddMedia("1128446371950394", metafake.Media{Data: []byte("ogg-bytes"), MimeType: "audio/ogg"})

	wamid := func(fixture string) string {
		var p struct {
			Entry []struct {
				Changes []struct {
					Value struct {
						Messages []struct {
							ID string `json:"id"`
						} `json:"messages"`
					} `json:"value"`
				} `json:"changes"`
			} `json:"entry"`
		}
		require.NoError(t, json.Unmarshal(metafake.Fixture(fixture), &p))
		return p.Entry[0].Changes[0].Value.Messages[0].ID
	}
	cases := map[string]func(t *testing.T, r row){
		"webhook_text.json": func(t *testing.T, r row) {
			require.Equal(t, "text", r.Type)
			require.Equal(t, "Oi! Vocês têm a camiseta azul no tamanho M?", r.Content["text"])
			require.Equal(t, customer, r.From)
		},
		"webhook_image.json": func(t *testing.T, r row) {
			require.Equal(t, "image", r.Type)
			require.Equal(t, "Chegou com defeito", r.Content["caption"])
			require.Equal(t, "1479537139650973", r.Content["mediaId"])
			require.Equal(t, "image/jpeg", r.Content["mimeType"])
			require.True(t, strings.HasPrefix(r.Content["mediaUrl"].(string), "http://media.test/"))
			require.Nil(t, r.ErrorCode)
		},
		"webhook_audio_voice.json": func(t *testing.T, r row) {
			require.Equal(t, "voice", r.Type)
			require.Equal(t, "audio/ogg; codecs=opus", r.Content["mimeType"])
			require.NotEmpty(t, r.Content["mediaUrl"])
		},
		"webhook_location.json": func(t *testing.T, r row) {
			require.Equal(t, "location", r.Type)
			require.InDelta(t, -23.5614141, r.Content["latitude"], 1e-9)
			require.InDelta(t, -46.6558819, r.Content["longitude"], 1e-9)
			require.Equal(t, "Rua Augusta, 500, São Paulo", r.Content["address"])
		},
		"webhook_interactive_button_reply.json": func(t *testing.T, r row) {
			require.Equal(t, "interactive", r.Type)
			require.Equal(t, "Confirmar", r.Content["text"])
			require.Equal(t, "wamid.HBgNNTUxMTk5OTk5OTk5ORUCABEYEjdDM0E5RTFGNUIyRDgwNjRBRQA=", r.Content["replyTo"])
			require.Equal(t, "delivery_confirm:48213", r.Content["interactive"].(map[string]any)["button_reply"].(map[string]any)["id"])
		},
		"webhook_reaction.json": func(t *testing.T, r row) {
			require.Equal(t, "reaction", r.Type)
			require.Equal(t, "❤️", r.Content["emoji"])
			require.Equal(t, "wamid.HBgNNTUxMTk5OTk5OTk5ORUCABEYEkYxRTJEM0M0QjVBNjk3ODg3RgA=", r.Content["targetMessageId"])
		},
		"webhook_unsupported.json": func(t *testing.T, r row) {
			require.Equal(t, "unsupported", r.Type)
			require.Equal(t, "unsupported", r.Content["raw"].(map[string]any)["type"])
			require.Equal(t, "131051", *r.ErrorCode)
		},
		"webhook_message_media_download_error.json": func(t *testing.T, r row) {
			require.Equal(t, "video", r.Type)
			require.Equal(t, "131052", *r.ErrorCode)
			require.Contains(t, *r.ErrorReason, "reenviar")
		},
		"webhook_text_bsuid_only.json": func(t *testing.T, r row) {
			require.Equal(t, "text", r.Type)
			require.Equal(t, "BR.7730118829104455", r.From)
		},
		"webhook_text_with_bsuid.json": func(t *testing.T, r row) {
			require.Equal(t, customer, r.From)
		},
	}
	for fixture, check := range cases {
		e.deliver(metafake.Fixture(fixture))
		r := e.message(wamid(fixture))
		require.Equal(t, "inbound", r.Direction, fixture)
		require.Equal(t, "received", r.Status, fixture)
		t.Run(fixture, func(t *testing.T) { check(t, r) })
	}
	// The image was downloaded with the bearer token into the media store.
	data, err := os.ReadFile(e.mediaDir + "/" + e.tenantID + "/meta/1479537139650973.jpg")
	require.NoError(t, err)
	require.Equal(t, "jpeg-bytes", string(data))
	for _, r := range e.fake.Requests() {
		if strings.HasPrefix(r.Path, "/download/") {
			require.Equal(t, "Bearer "+token, r.Auth)
		}
	}
	// Phone and BSUID are one contact; the BSUID-only sender is another.
	require.Equal(t, 1, e.count(`SELECT count(*) FROM wa.meta_contacts WHERE wa_id = $1 AND bsuid = $2 AND profile_name = 'Maria Souza'`, customer, bsuid))
	require.Equal(t, 1, e.count(`SELECT count(*) FROM wa.meta_contacts WHERE bsuid = 'BR.7730118829104455' AND wa_id IS NULL AND username = 'joana.compras'`))
	require.Equal(t, 2, e.count(`SELECT count(*) FROM wa.meta_contacts`))
}

func TestInboundMediaDownloadFailureIsVisible(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	// Media id unknown to the fake: GET /{media-id} answers error 100.
	e.deliver(metafake.Fixture("webhook_image.json"))
	var code, reason *string
	require.NoError(t, e.pool.QueryRow(e.ctx, `SELECT error_code, error_reason FROM public.messages WHERE direction = 'inbound'`).Scan(&code, &reason))
	require.Equal(t, "media_download_failed", *code)
	require.NotEmpty(t, *reason)
}

func TestSystemUserChangedNumberRekeysContact(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	e.deliver(metafake.Fixture("webhook_text_with_bsuid.json"))
	e.deliver(metafake.Fixture("webhook_system_user_changed_number.json"))
	require.Zero(t, e.count(`SELECT count(*) FROM wa.meta_contacts WHERE wa_id = $1`, customer))
	require.Equal(t, 1, e.count(`SELECT count(*) FROM wa.meta_contacts WHERE wa_id = '5511977776666' AND last_inbound_at IS NOT NULL`))
	require.Equal(t, 1, e.count(`SELECT count(*) FROM public.messages WHERE message_type = 'system'`))
	// The window follows the person to the new number.
	open, _, err := e.prov.WindowOpen(e.ctx, e.tenantID, e.session, "+55 11 97777-6666")
	require.NoError(t, err)
	require.True(t, open)
}

func TestStatusesUnderStateMachine(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	sentID := "wamid.HBgNNTUxMTk5OTk5OTk5ORUCABEYEkYxRTJEM0M0QjVBNjk3ODg3RgA="
	id := e.outbound(sentID, "sending")
	failedID := e.outbound("wamid.HBgNNTUxMTk5OTk5OTk5ORUCABEYEjJCOEQ0RjZBMEMxRTNCNUQ3OQA=", "sending")

	e.deliver(metafake.Fixture("webhook_status_sent.json"))
	require.Equal(t, "sent", e.status(id))
	// Out of order: read before delivered; the late delivered is ignored.
	e.deliver(metafake.Fixture("webhook_status_read.json"))
	require.Equal(t, "read", e.status(id))
	e.deliver(metafake.Fixture("webhook_status_delivered.json"))
	require.Equal(t, "read", e.status(id))
	e.deliver(metafake.Fixture("webhook_status_played.json"))
	require.Equal(t, "played", e.status(id))
	// The 2026 delivered status linked the recipient's phone and BSUID.
	require.Equal(t, 1, e.count(`SELECT count(*) FROM wa.meta_contacts WHERE wa_id = $1 AND bsuid = $2`, customer, bsuid))

	e.deliver(metafake.Fixture("webhook_status_failed_131047.json"))
	r := e.message("wamid.HBgNNTUxMTk5OTk5OTk5ORUCABEYEjJCOEQ0RjZBMEMxRTNCNUQ3OQA=")
	require.Equal(t, "failed", e.status(failedID))
	require.Equal(t, "131047", *r.ErrorCode)
	require.Contains(t, *r.ErrorReason, "modelo (template)")

	// Statuses of messages zapbase does not know (sent elsewhere) are harmless.
	e.deliver(metafake.Fixture("webhook_status_failed.json"))
	e.deliver(metafake.Fixture("webhook_status_sent_template_tracked.json"))
	require.Zero(t, e.count(`SELECT count(*) FROM wa.webhook_inbox WHERE processed_at IS NULL`))
}

func TestStatusCorrelatesLostSendByCallbackData(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	// A send that timed out: the row has no wamid yet.
	var rowID string
	require.NoError(t, e.pool.QueryRow(e.ctx, `
INSERT INTO public.messages (tenant_id, session_id, direction, to_number, message_type, status, provider)
VALUES ($1, $2, 'outbound', $3, 'text', 'pending', 'meta_api') RETURNING id::text`, e.tenantID, e.session, customer).Scan(&rowID))
	_, err := e.pool.Exec(e.ctx, `UPDATE public.messages SET status = 'sending' WHERE id = $1`, rowID)
	require.NoError(t, err)
	body := strings.Replace(string(metafake.Fixture("webhook_status_sent.json")), `"recipient_id"`,
		`"biz_opaque_callback_data": "zapbase:`+rowID+`", "recipient_id"`, 1)
	e.deliver([]byte(body))
	r := e.message("wamid.HBgNNTUxMTk5OTk5OTk5ORUCABEYEkYxRTJEM0M0QjVBNjk3ODg3RgA=")
	require.Equal(t, "sent", r.Status)
	require.Equal(t, "outbound", r.Direction)
}

func TestBatchedPostWithTwoNumbers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	other := e.newTenant("globex")
	session2 := e.initialize(other, display2, creds(pnid2, waba2, token2))
	e.awaitState(providers.StateConnected)
	var rowID string
	require.NoError(t, e.pool.QueryRow(e.ctx, `
INSERT INTO public.messages (tenant_id, session_id, message_id, direction, to_number, message_type, status, provider)
VALUES ($1, $2, 'wamid.HBgNNTUyMTk4NzY1NDMyMRUCABEYEjVFNjY2NjY2NjY2NjY2NjY2NgA=', 'outbound', '552187654321', 'text', 'pending', 'meta_api')
RETURNING id::text`, other, session2).Scan(&rowID))
	_, err := e.pool.Exec(e.ctx, `UPDATE public.messages SET status = 'sending' WHERE id = $1`, rowID)
	require.NoError(t, err)

	e.deliver(metafake.Fixture("webhook_batched_multi.json"))
	require.Equal(t, 2, e.count(`SELECT count(*) FROM public.messages WHERE direction = 'inbound' AND tenant_id = $1`, e.tenantID))
	require.Zero(t, e.count(`SELECT count(*) FROM public.messages WHERE direction = 'inbound' AND tenant_id = $1`, other))
	require.Equal(t, "read", e.status(rowID), "read then late delivered: stays read")
	require.Zero(t, e.count(`SELECT count(*) FROM wa.webhook_inbox WHERE tenant_id IS NOT NULL`), "a batch spanning tenants has no single tenant")
}

func TestDuplicateDelivery(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	body := metafake.Fixture("webhook_text.json")
	e.deliver(body)
	e.deliver(body)
	require.Equal(t, 1, e.count(`SELECT count(*) FROM wa.webhook_inbox`))
	// The same message inside a differently batched POST (fan-out retry).
	var v map[string]any
	require.NoError(t, json.Unmarshal(body, &v))
	compact, _ := json.Marshal(v)
	e.deliver(compact)
	require.Equal(t, 2, e.count(`SELECT count(*) FROM wa.webhook_inbox`))
	require.Equal(t, 1, e.count(`SELECT count(*) FROM public.messages WHERE direction = 'inbound'`))
}

func TestNonMessageFieldsAndSystemErrorsAcknowledged(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	for _, f := range []string{"webhook_template_status_update.json", "webhook_errors_value_130429.json"} {
		e.deliver(metafake.Fixture(f)) // 200 (routed by WABA id), processed, nothing to store
	}
	require.Zero(t, e.count(`SELECT count(*) FROM public.messages`))
	require.Equal(t, 2, e.count(`SELECT count(*) FROM wa.webhook_inbox WHERE processed_at IS NOT NULL`))
}

func TestEveryWebhookFixtureAccepted(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	other := e.newTenant("globex")
	e.initialize(other, display2, creds(pnid2, waba2, token2))
	e.awaitState(providers.StateConnected)
	names := metafake.FixtureNames("webhook_")
	require.GreaterOrEqual(t, len(names), 20)
	for _, name := range names {
		if strings.HasSuffix(name, "_case.json") {
			continue
		}
		e.deliver(metafake.Fixture(name))
	}
	var failed int
	require.NoError(t, e.pool.QueryRow(e.ctx, `SELECT count(*) FROM wa.webhook_inbox WHERE processed_at IS NULL`).Scan(&failed))
	require.Zero(t, failed, "every fixture processed without error")
}

func TestBackgroundProcessorDrainsInbox(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	require.NoError(t, e.prov.Start(e.ctx))
	body := metafake.Fixture("webhook_text.json")
	require.Equal(t, http.StatusOK, e.post(body, meta.Sign(appSecret, body)))
	m := <-e.rec.inbound // woken by the webhook, not by polling (PollInterval is an hour)
	require.Equal(t, customer, m.From)
	e.prov.Stop()
	e.prov.Stop() // idempotent
}

func TestTransientMediaFailureIsRetried(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	e.fake.AddMedia("1479537139650973", metafake.Media{Data: []byte("jpeg-bytes"), MimeType: "image/jpeg"})
	e.fake.ScriptMediaLookup(metafake.ErrorOutcome("error_131000.json", http.StatusInternalServerError))
	e.deliver(metafake.Fixture("webhook_image.json"))
	var lastErr *string
	require.NoError(t, e.pool.QueryRow(e.ctx, `SELECT last_error FROM wa.webhook_inbox WHERE processed_at IS NULL`).Scan(&lastErr))
	require.NotNil(t, lastErr)
	// The message is visible at once, its media marked as pending.
	r := e.message("wamid.HBgNNTUxMTk5OTk5OTk5ORUCABIYFDNBQjZFMTBGOTJDNDdENTgzRTBBAA==")
	require.Equal(t, "media_download_pending", *r.ErrorCode)
	require.Equal(t, "1479537139650973", r.Content["mediaId"])

	// The backoff elapses (the clock is the database's): the retry succeeds.
	_, err := e.pool.Exec(e.ctx, `UPDATE wa.webhook_inbox SET next_attempt_at = now()`)
	require.NoError(t, err)
	e.drain()
	var url string
	var code *string
	require.NoError(t, e.pool.QueryRow(e.ctx, `SELECT content->>'mediaUrl', error_code FROM public.messages WHERE direction = 'inbound'`).Scan(&url, &code))
	require.NotEmpty(t, url)
	require.Nil(t, code, "the pending mark is cleared")
	require.Equal(t, 1, e.count(`SELECT count(*) FROM public.messages`))
	require.Zero(t, e.count(`SELECT count(*) FROM wa.webhook_inbox WHERE processed_at IS NULL`))
}

func TestWebhookRejectsOversizedBodiesAndOtherMethods(t *testing.T) {
	t.Parallel()
	e := newEnv(t, envOpts{})
	big := bytes.Repeat([]byte(" "), meta.MaxWebhookBytes+1)
	require.Equal(t, http.StatusRequestEntityTooLarge, e.post(big, meta.Sign(appSecret, big)))
	req, _ := http.NewRequest(http.MethodPut, e.web.URL, nil)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	require.Equal(t, http.StatusMethodNotAllowed, resp.StatusCode)
	require.Zero(t, e.count(`SELECT count(*) FROM wa.webhook_inbox`))
}
