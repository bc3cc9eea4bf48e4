package tests

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/stretchr/testify/require"
)

// consoleWait bounds each wait for the page (an upper bound, not a
// threshold: every wait ends as soon as its condition holds).
const consoleWait = 60 * time.Second

// TestConsoleInChromium drives the web console in real headless Chromium
// against `zapbase dev` (the real binary, with the test-only WhatsApp Web
// client): the dev sign-in link opens it; a WhatsApp Web session is created
// from the page and its QR code appears as an image and changes when the
// code rotates; the phone scans it and the page shows "conectado"; a message
// sent from the chat reaches "lida" live; an agent created from a template
// answers in the test chat; the Painel shows the tenant's figures; every
// page fits 375 px; and a user of another tenant sees only its own
// sessions. Screenshots of every page (desktop and 375 px) go to
// $ZAPBASE_CONSOLE_SCREENSHOTS, or the test's temporary directory.
func TestConsoleInChromium(t *testing.T) {
	chromium, err := exec.LookPath("chromium")
	require.NoError(t, err, "install Debian's chromium (apt-get install -y chromium): scripts/test does")
	shots := os.Getenv("ZAPBASE_CONSOLE_SCREENSHOTS")
	if shots == "" {
		shots = t.TempDir()
	}
	require.NoError(t, os.MkdirAll(shots, 0o755))

	dir := t.TempDir()
	// The Graph API is a closed local port: Meta sessions are stored and
	// their background check fails without leaving this machine.
	p := Start(t, map[string]string{"__DIR": dir, "ZAPBASE_TEST_WHATSMEOW_FAKE": "1", "ZAPBASE_AI_DEBOUNCE": "0",
		"ZAPBASE_META_GRAPH_URL": "http://127.0.0.1:9"},
		"dev", "--addr", "127.0.0.1:0", "--pg-port", "0")
	t.Cleanup(func() {
		if t.Failed() { // the whole log next to the screenshots
			_ = os.WriteFile(filepath.Join(shots, "zapbase.log"), []byte(p.Logs()), 0o644)
		}
	})
	banner := p.Logs()
	link := regexp.MustCompile(`Console:\s+(http://\S+/console#token=(\S+))`).FindStringSubmatch(banner)
	require.NotNil(t, link, "the dev banner prints the console sign-in link")
	devToken := link[2]
	dbURL := regexp.MustCompile(`Banco \(psql\):\s+(\S+)`).FindStringSubmatch(banner)
	require.NotNil(t, dbURL)

	// Tenant B with its own user and session: A must never see it.
	ctx := withTimeout(t, 5*time.Minute)
	conn, err := pgx.Connect(ctx, dbURL[1])
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close(context.Background()) })
	userB := uuid.NewString()
	_, err = conn.Exec(ctx, `
WITH t AS (INSERT INTO public.tenants (client_id, name) VALUES ('outra', 'Outra Empresa') RETURNING id),
     u AS (INSERT INTO auth.users (id, email) VALUES ($1, 'b@outra.example') RETURNING id),
     m AS (INSERT INTO public.tenant_members (tenant_id, user_id, role) SELECT t.id, u.id, 'owner' FROM t, u)
INSERT INTO public.whatsapp_sessions (tenant_id, phone_number, provider_type, state)
SELECT t.id, '5521977770000', 'sandbox', 'connected' FROM t`, userB)
	require.NoError(t, err)
	var st struct {
		JWTSecret string `json:"jwtSecret"`
	}
	raw, err := os.ReadFile(filepath.Join(dir, ".zapbase", "dev.json"))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(raw, &st))
	tokenB, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": userB, "email": "b@outra.example", "role": "authenticated", "aud": "authenticated",
		"iss": "zapbase-dev", "iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix(),
	}).SignedString([]byte(st.JWTSecret))
	require.NoError(t, err)

	alloc, cancelAlloc := chromedp.NewExecAllocator(ctx,
		chromedp.ExecPath(chromium), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("disable-features", "Translate"), chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900))
	defer cancelAlloc()
	browser, cancelBrowser := chromedp.NewContext(alloc)
	defer cancelBrowser()
	b := &page{t: t, ctx: browser, shots: shots}

	// Every page load wraps fetch() so the test sees the Last-Event-ID of
	// each event-stream request and can cut the open stream, as a network
	// drop would.
	_, err = chromedp.Run(browser, func(ctx context.Context, _ *chromedp.Target) (cdppage.AddScriptToEvaluateOnNewDocumentResult, error) {
		return chromedp.Call(ctx, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: streamProbe})
	})
	require.NoError(t, err)

	const phone = "5511955554444"
	api := &devAPI{t: t, base: p.BaseURL(), token: devToken, clientID: "demo"}

	// Sign in by the printed link; the token leaves the address bar.
	b.do(chromedp.Navigate(link[1]))
	b.wait(`document.querySelector('nav a[aria-current="page"]')?.textContent === 'Sessões'`)
	require.NotContains(t, b.eval(`location.href`), "token=", "the sign-in link's token is dropped from the address")
	b.wait(`document.querySelector('[data-session="5511900000000"]') !== null`)
	b.wait(`document.getElementById('live')?.textContent === 'ao vivo'`)
	b.shot("01-sessoes")

	// Create a WhatsApp Web session from the form: a QR image appears.
	b.do(chromedp.SendKeys(`#main form[aria-labelledby="new-wa"] input[type="tel"]`, phone))
	b.do(chromedp.Click(`#main form[aria-labelledby="new-wa"] button[type="submit"]`))
	firstQR := b.waitQR(phone, "")
	b.shot("02-sessoes-qr")

	// WhatsApp rotates the code: the image follows.
	code := api.session(phone).QRCode
	require.NotEmpty(t, code)
	api.fake("rotate", url.Values{"code": {code}})
	secondQR := b.waitQR(phone, firstQR)
	require.NotEqual(t, firstQR, secondQR)
	require.NotEqual(t, code, api.session(phone).QRCode, "the row holds the new code")
	b.shot("03-sessoes-qr-novo")

	// The phone scans the code on screen: "conectado".
	api.fake("scan", url.Values{"code": {api.session(phone).QRCode}, "phone": {phone}})
	b.wait(`document.querySelector('[data-session="` + phone + `"] .badge')?.textContent === 'conectado'`)
	require.Equal(t, "0", b.eval(`String(document.querySelectorAll('[data-session="`+phone+`"] img.qr').length)`), "no QR once linked")
	b.shot("04-sessoes-conectado")

	// Pairing by code instead of QR.
	b.do(chromedp.SendKeys(`#main form[aria-labelledby="new-wa"] input[type="tel"]`, "5511944443333"))
	b.do(chromedp.Click(`#main form[aria-labelledby="new-wa"] input[type="checkbox"]`))
	b.do(chromedp.Click(`#main form[aria-labelledby="new-wa"] button[type="submit"]`))
	b.wait(`document.querySelector('[data-session="5511944443333"] .paircode')?.textContent === 'FAKE-CODE'`)

	// A Meta session: the secrets are sent once and never shown back.
	const metaToken, metaSecret = "EAAG-token-que-nao-pode-vazar-123", "app-secret-que-nao-pode-vazar"
	form := `#main form[aria-labelledby="new-meta"] `
	b.do(chromedp.SendKeys(form+`input[type="tel"]`, "5511933332222"),
		chromedp.SendKeys(form+`.field:nth-of-type(2) input`, "109876543210987"),
		chromedp.SendKeys(form+`.field:nth-of-type(3) input`, "209876543210987"),
		chromedp.SendKeys(form+`.field:nth-of-type(4) input`, metaToken),
		chromedp.SendKeys(form+`.field:nth-of-type(5) input`, metaSecret),
		chromedp.SendKeys(form+`.field:nth-of-type(6) input`, "verify-token-123"),
		chromedp.Click(form+`button[type="submit"]`))
	b.wait(`document.querySelector('[data-session="5511933332222"]')?.textContent.includes('API oficial (Meta)')`)
	// The card can arrive by the event stream before the answer: wait for
	// the answer, which clears the form.
	b.wait(`document.querySelector('` + form + `input[type="tel"]').value === '' && [...document.querySelectorAll('` + form + `input[type="password"]')].every(i => i.value === '')`)
	require.Equal(t, "false", b.eval(`String(document.body.innerHTML.includes('`+metaToken+`') || document.body.innerHTML.includes('`+metaSecret+`'))`))
	require.Equal(t, "password", b.eval(`document.querySelector('`+form+`.field:nth-of-type(4) input').type`))
	var listed string
	require.NoError(t, conn.QueryRow(ctx, `SELECT row_to_json(s)::text FROM public.whatsapp_sessions s WHERE phone_number = '5511933332222'`).Scan(&listed))
	require.NotContains(t, listed, metaToken, "the public row never holds the token")
	b.shot("04b-sessoes-meta")

	// Conversations: send from the linked number; the status moves live to "lida".
	b.do(chromedp.Navigate(p.BaseURL() + "/console#/conversas"))
	b.wait(`document.querySelector('nav a[aria-current="page"]')?.textContent === 'Conversas'`)
	b.do(chromedp.SendKeys(`.newchat input`, "5511988887777"))
	b.do(chromedp.Click(`.newchat button`))
	b.wait(`document.querySelector('.composer select option[value="` + phone + `"]') !== null`)
	b.do(chromedp.SetValue(`.composer select`, phone))
	b.do(chromedp.SendKeys(`.composer textarea`, "Olá pelo console!"))
	b.do(chromedp.Click(`.composer button[type="submit"]`))
	require.Eventually(t, func() bool {
		var st string
		_ = conn.QueryRow(ctx, `SELECT status FROM public.messages WHERE content->>'text' = 'Olá pelo console!'`).Scan(&st)
		return st == "read"
	}, consoleWait, 50*time.Millisecond, "the row reaches read")
	b.wait(`[...document.querySelectorAll('.msg.outbound')].some(m => m.textContent.includes('Olá pelo console!') && m.querySelector('.status')?.dataset.status === 'read' && m.querySelector('.status').textContent.includes('lida'))`)
	var seen []string
	// The row walked the whole way (the feed ends sent, delivered, read).
	require.NoError(t, conn.QueryRow(ctx, `SELECT array_agg(c.data->>'status' ORDER BY c.txid, c.id)
  FROM wa.change_log c JOIN public.messages m ON m.id = c.message_id
 WHERE m.content->>'text' = 'Olá pelo console!' AND c.topic = 'message.status'`).Scan(&seen))
	require.GreaterOrEqual(t, len(seen), 3, "%v", seen)
	require.Equal(t, []string{"sent", "delivered", "read"}, seen[len(seen)-3:])
	b.wait(`document.querySelector('.conv[data-contact="5511988887777"]') !== null`)

	// A permanent failure shows its pt-BR reason, live. (The row waits an
	// hour for its turn; the update plays the dispatcher recording a
	// failure from the provider.)
	var failedID string
	require.NoError(t, conn.QueryRow(ctx, `INSERT INTO public.messages (tenant_id, to_number, content, provider, next_attempt_at)
SELECT id, '5511988887777', '{"text":"Esta vai falhar"}', 'baileys', now() + interval '1 hour' FROM public.tenants WHERE client_id = 'demo'
RETURNING id`).Scan(&failedID))
	_, err = conn.Exec(ctx, `UPDATE public.messages SET status = 'failed', error_code = '131026',
  error_reason = 'O destinatário não pode receber esta mensagem (número sem WhatsApp ou versão antiga).' WHERE id = $1`, failedID)
	require.NoError(t, err)
	b.wait(`document.querySelector('.msg[data-id="` + failedID + `"] .status')?.textContent.includes('falhou') && document.querySelector('.msg[data-id="` + failedID + `"] .reason')?.textContent.includes('número sem WhatsApp')`)

	// Inbound media: the stored image is shown.
	mediaDir := filepath.Join(dir, ".zapbase", "media", "demo")
	require.NoError(t, os.MkdirAll(mediaDir, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(mediaDir, "foto.png"), testPNG(t), 0o644))
	var inID string
	require.NoError(t, conn.QueryRow(ctx, `INSERT INTO public.messages (tenant_id, session_id, direction, from_number, to_number, message_type, status, content, provider, message_id)
SELECT t.id, s.id, 'inbound', '5511988887777', s.phone_number, 'image', 'received',
       '{"mediaPath": "demo/foto.png", "mimeType": "image/png", "caption": "Foto da fachada"}', 'baileys', 'IN-PHOTO-1'
  FROM public.tenants t JOIN public.whatsapp_sessions s ON s.tenant_id = t.id AND s.phone_number = $1
 WHERE t.client_id = 'demo' RETURNING id`, phone).Scan(&inID))
	b.wait(`(() => { const i = document.querySelector('.msg.inbound[data-id="` + inID + `"] img'); return i && i.complete && i.naturalWidth === 64 && i.alt === 'Foto da fachada'; })()`)

	// The stream drops: the page reconnects with Last-Event-ID and what
	// happened meanwhile arrives.
	b.wait(`window.__sse.length >= 1`)
	before := b.eval(`String(window.__sse.length)`)
	b.do(chromedp.Evaluate[chromedp.Void](`window.__cutEvents()`))
	var gapID string
	require.NoError(t, conn.QueryRow(ctx, `INSERT INTO public.messages (tenant_id, session_id, direction, from_number, to_number, status, content, provider, message_id)
SELECT t.id, s.id, 'inbound', '5511988887777', s.phone_number, 'received', '{"text":"Escrita durante a queda"}', 'baileys', 'IN-GAP-1'
  FROM public.tenants t JOIN public.whatsapp_sessions s ON s.tenant_id = t.id AND s.phone_number = $1
 WHERE t.client_id = 'demo' RETURNING id`, phone).Scan(&gapID))
	b.wait(`window.__sse.length > ` + before)
	require.Regexp(t, `^[0-9]+-[0-9]+$`, b.eval(`window.__sse[window.__sse.length - 1]`), "the reconnect resumes from the last event id")
	b.wait(`document.querySelector('.msg[data-id="` + gapID + `"]') !== null && document.getElementById('live').textContent === 'ao vivo'`)

	// Send media from the composer: the upload is shown and moves to "lida" too.
	upload := filepath.Join(t.TempDir(), "vitrine.png")
	require.NoError(t, os.WriteFile(upload, testPNG(t), 0o644))
	b.do(chromedp.SetUploadFiles(`.composer input[type="file"]`, []string{upload}))
	b.do(chromedp.SendKeys(`.composer textarea`, "Nossa vitrine"))
	b.do(chromedp.Click(`.composer button[type="submit"]`))
	require.Eventually(t, func() bool {
		var st string
		_ = conn.QueryRow(ctx, `SELECT status FROM public.messages WHERE content->>'caption' = 'Nossa vitrine'`).Scan(&st)
		return st == "read"
	}, consoleWait, 50*time.Millisecond, "the media row reaches read")
	b.wait(`[...document.querySelectorAll('.msg.outbound')].some(m => { const i = m.querySelector('img'); return i && i.complete && i.naturalWidth === 64 && i.alt === 'Nossa vitrine' && m.querySelector('.status')?.dataset.status === 'read'; })`)

	// Hand the conversation to a human and back.
	b.wait(`!document.querySelector('.chathead .handoff').disabled`)
	b.do(chromedp.Click(`.chathead .handoff`))
	b.wait(`document.querySelector('.chathead .handoff').textContent === 'Devolver ao agente de IA'`)
	var aiState string
	require.NoError(t, conn.QueryRow(ctx, `SELECT state FROM public.ai_conversations WHERE contact = '5511988887777'`).Scan(&aiState))
	require.Equal(t, "handoff", aiState)
	b.shot("05-conversas")
	b.do(chromedp.Click(`.chathead .handoff`))
	b.wait(`document.querySelector('.chathead .handoff').textContent === 'Passar para um humano'`)
	require.NoError(t, conn.QueryRow(ctx, `SELECT state FROM public.ai_conversations WHERE contact = '5511988887777'`).Scan(&aiState))
	require.Equal(t, "active", aiState)

	// Agents: create from a template, then try it in the test chat.
	b.do(chromedp.Navigate(p.BaseURL() + "/console#/agentes"))
	b.wait(`document.querySelector('form[aria-labelledby="tpl-title"] option') !== null`)
	b.do(chromedp.Click(`form[aria-labelledby="tpl-title"] button[type="submit"]`))
	b.wait(`document.querySelector('form[aria-labelledby="edit-title"]') !== null && document.querySelector('form[aria-labelledby="test-title"], section[aria-labelledby="test-title"] form') !== null`)
	b.do(chromedp.SendKeys(`section[aria-labelledby="test-title"] input`, "Quero um apartamento de 2 quartos"))
	b.do(chromedp.Click(`section[aria-labelledby="test-title"] button[type="submit"]`))
	b.wait(`document.querySelector('section[aria-labelledby="test-title"] .msg.outbound .ai') !== null`)
	b.shot("06-agentes")

	// Painel: the tenant's figures.
	b.do(chromedp.Navigate(p.BaseURL() + "/console#/painel"))
	b.wait(`document.querySelectorAll('.kpi').length === 4 && document.querySelector('.chart svg') !== null`)
	require.Contains(t, b.eval(`document.querySelector('.kpi .value').textContent`), "%")
	b.shot("07-painel")

	// Keyboard: the first Tab reaches the skip link, which moves focus to main.
	b.do(chromedp.Navigate("about:blank"), chromedp.Navigate(p.BaseURL()+"/console#/sessoes"))
	b.wait(`document.querySelector('[data-session="` + phone + `"]') !== null`)
	b.do(chromedp.KeyEvent("\t"))
	require.Equal(t, "Pular para o conteúdo", b.eval(`document.activeElement.textContent`))
	b.do(chromedp.KeyEvent("\r"))
	b.wait(`document.activeElement?.id === 'main'`)
	b.do(chromedp.KeyEvent("\t"))
	require.NotEqual(t, "BODY", b.eval(`document.activeElement.tagName`), "Tab moves on from main into the page")

	// 375 px: every page fits without horizontal scrolling.
	b.do(chromedp.EmulateViewport(375, 812))
	for _, pg := range []struct{ hash, ready, name string }{
		{"sessoes", `document.querySelector('[data-session="` + phone + `"]') !== null`, "08-375-sessoes"},
		{"conversas", `document.querySelector('.conv[data-contact="5511988887777"]') !== null`, "09-375-conversas"},
		{"agentes", `document.querySelector('form[aria-labelledby="edit-title"]') !== null`, "11-375-agentes"},
		{"painel", `document.querySelectorAll('.kpi').length === 4`, "12-375-painel"},
	} {
		b.do(chromedp.Navigate(p.BaseURL() + "/console#/" + pg.hash))
		b.wait(`document.querySelector('nav a[aria-current="page"]')?.getAttribute('data-page') === '` + pg.hash + `'`)
		b.wait(pg.ready)
		b.fits375(pg.name)
		if pg.hash == "conversas" {
			b.do(chromedp.Click(`.conv[data-contact="5511988887777"]`))
			b.wait(`document.querySelector('.msg.outbound .status[data-status="read"]') !== null`)
			b.fits375("10-375-conversa-aberta")
		}
	}

	// Disconnect from the page.
	b.do(chromedp.Navigate(p.BaseURL() + "/console#/sessoes"))
	b.wait(`document.querySelector('[data-session="5511944443333"] .badge') !== null`)
	b.do(chromedp.Click(`[data-session="5511944443333"] .actions button`))
	b.wait(`document.querySelector('[data-session="5511944443333"] .badge')?.textContent === 'desconectado'`)

	// Tenant B's user: only B's tenant and sessions.
	b.do(chromedp.Evaluate[chromedp.Void](`sessionStorage.clear()`))
	b.do(chromedp.Navigate(p.BaseURL() + "/console#token=" + tokenB))
	b.wait(`document.querySelector('[data-session="5521977770000"]') !== null`)
	require.Equal(t, "0", b.eval(`String(document.querySelectorAll('[data-session="`+phone+`"], [data-session="5511900000000"]').length)`))
	require.Equal(t, "outra", b.eval(`[...document.querySelectorAll('#tenant option')].map(o => o.value).join(',')`))
	b.fits375("13-375-outro-tenant")
	// The API agrees: B's token cannot act for demo, nor read its events.
	bAPI := &devAPI{t: t, base: p.BaseURL(), token: tokenB, clientID: "demo"}
	require.Equal(t, http.StatusForbidden, bAPI.status("/api/v1/sessions/status"))
	require.Equal(t, http.StatusForbidden, bAPI.status("/api/v1/events"))
}

// streamProbe wraps fetch() for /api/v1/events: window.__sse lists the
// Last-Event-ID header of each request ("" for none), window.__cutEvents()
// errors the open stream's body as a dropped connection does.
const streamProbe = `(() => {
  window.__sse = [];
  const orig = window.fetch.bind(window);
  window.fetch = async (url, init) => {
    const res = await orig(url, init);
    if (!String(url).includes('/api/v1/events') || !res.body) return res;
    const h = (init && init.headers) || {};
    window.__sse.push(h['Last-Event-ID'] || '');
    const reader = res.body.getReader();
    const body = new ReadableStream({
      start(c) { window.__cutEvents = () => { c.error(new TypeError('network error')); reader.cancel(); }; },
      async pull(c) {
        try {
          const { value, done } = await reader.read();
          if (done) c.close(); else c.enqueue(value);
        } catch (e) { try { c.error(e); } catch {} }
      },
    });
    return new Response(body, { status: res.status, headers: res.headers });
  };
})();`

// testPNG is a 64×64 image.
func testPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 64, 64))
	for x := range 64 {
		for y := range 64 {
			img.Set(x, y, color.RGBA{R: uint8(x * 4), G: 120, B: uint8(y * 4), A: 255})
		}
	}
	var buf bytes.Buffer
	require.NoError(t, png.Encode(&buf, img))
	return buf.Bytes()
}

// page drives one tab.
type page struct {
	t     *testing.T
	ctx   context.Context
	shots string
}

func (b *page) do(actions ...chromedp.Action[chromedp.Void]) {
	b.t.Helper()
	require.NoError(b.t, chromedp.Do(b.ctx, actions...))
}

func (b *page) eval(expr string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[string](expr))
	require.NoError(b.t, err, expr)
	return v
}

// wait polls a JavaScript condition until it holds.
func (b *page) wait(cond string) {
	b.t.Helper()
	_, err := chromedp.Run(b.ctx, chromedp.Poll[chromedp.Void](cond,
		chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(consoleWait)))
	if err != nil {
		b.shot("failed")
		b.t.Fatalf("waiting for %s: %v", cond, err)
	}
}

// waitQR waits until the QR image of phone is loaded and is not old (its
// src); it returns the src.
func (b *page) waitQR(phone, old string) string {
	b.t.Helper()
	sel := `document.querySelector('img.qr[data-qr-for="` + phone + `"]')`
	b.wait(sel + `?.complete && ` + sel + `.naturalWidth > 100 && ` + sel + `.src.startsWith('blob:') && ` + sel + `.src !== '` + old + `'`)
	return b.eval(sel + `.src`)
}

func (b *page) shot(name string) {
	b.t.Helper()
	buf, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(b.shots, name+".png")
	if err := os.WriteFile(path, buf, 0o644); err != nil {
		b.t.Logf("write %s: %v", path, err)
	}
}

// fits375 takes a screenshot and checks nothing overflows 375 px.
func (b *page) fits375(name string) {
	b.t.Helper()
	b.shot(name)
	require.Equal(b.t, "375", b.eval(`String(Math.max(document.documentElement.scrollWidth, document.body.scrollWidth))`),
		"%s overflows 375 px: %s", name, b.eval(`[...document.querySelectorAll('body *')].filter(e => e.getBoundingClientRect().right > 376).slice(0, 5).map(e => e.tagName + '.' + e.className).join(', ')`))
}

// devAPI calls the API as a user.
type devAPI struct {
	t               *testing.T
	base            string
	token, clientID string
}

type sessionView struct {
	State  string `json:"state"`
	QRCode string `json:"qrCode"`
}

func (a *devAPI) session(phone string) sessionView {
	a.t.Helper()
	var out struct{ Sessions []sessionView }
	req, _ := http.NewRequest(http.MethodGet, a.base+"/api/v1/sessions/status", nil)
	a.auth(req)
	res, err := http.DefaultClient.Do(req)
	require.NoError(a.t, err)
	defer res.Body.Close()
	require.Equal(a.t, http.StatusOK, res.StatusCode)
	var all struct {
		Sessions []struct {
			PhoneNumber string `json:"phoneNumber"`
			sessionView
		} `json:"sessions"`
	}
	require.NoError(a.t, json.NewDecoder(res.Body).Decode(&all))
	for _, s := range all.Sessions {
		if s.PhoneNumber == phone {
			return s.sessionView
		}
	}
	_ = out
	a.t.Fatalf("session %s not found", phone)
	return sessionView{}
}

func (a *devAPI) auth(req *http.Request) {
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("X-Client-Id", a.clientID)
}

func (a *devAPI) status(path string) int {
	a.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, a.base+path, nil)
	a.auth(req)
	res, err := http.DefaultClient.Do(req)
	require.NoError(a.t, err)
	defer res.Body.Close()
	_, _ = io.Copy(io.Discard, res.Body)
	return res.StatusCode
}

// fake acts as the phone through the fake client's test control.
func (a *devAPI) fake(action string, q url.Values) {
	a.t.Helper()
	res, err := http.Post(fmt.Sprintf("%s/__test/whatsmeowfake/%s?%s", a.base, action, q.Encode()), "", strings.NewReader(""))
	require.NoError(a.t, err)
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	require.Equal(a.t, http.StatusNoContent, res.StatusCode, string(body))
}
