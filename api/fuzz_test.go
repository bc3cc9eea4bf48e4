package api

import (
	"bytes"
	"encoding/json"
	"mime/multipart"
	"regexp"
	"testing"
	"time"

	"github.com/zapbase/zapbase"
)

var recipientRE = regexp.MustCompile(recipientPattern)

// FuzzDecodeRequests drives request decoding and validation (JSON and
// multipart bodies, canonical content, webhook signatures) with arbitrary
// input: it must never panic, every refusal is a 4xx problem with a code,
// and everything accepted satisfies the documented constraints. The seed
// corpus runs in every `go test`.
func FuzzDecodeRequests(f *testing.F) {
	seeds := []string{
		`{"to": "5511988887777", "content": "Olá do zapbase!", "provider": "auto"}`,
		`{"to": "5511988887777", "type": "image", "mediaUrl": "https://e.com/a.jpg"}`,
		`{"to": "5511988887777", "type": "image", "mediaBase64": "iVBORw0KGgo="}`,
		`{"to": "+5511988887777", "type": "location", "content": {"latitude": -23.5, "longitude": -46.6}}`,
		`{"to": "123@g.us", "type": "text", "content": {"text": "oi"}, "metadata": {"a": 1}}`,
		`{"to": "5511988887777", "type": "template", "content": {"template": {"name": "x", "language": "pt_BR"}}}`,
		`{"to": 5511988887777}`, `[]`, `null`, `{`, `{"to": "5511988887777", "type": "text", "content": {"raw": {"x": 1}}}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s), false)
	}
	var mp bytes.Buffer
	mw := multipart.NewWriter(&mp)
	_ = mw.WriteField("to", "5511988887777")
	_ = mw.WriteField("type", "document")
	fw, _ := mw.CreateFormFile("file", "a.pdf")
	_, _ = fw.Write([]byte("%PDF-1.4"))
	_ = mw.Close()
	f.Add(mp.Bytes(), true)
	boundary := mw.Boundary()

	s := New(Params{})
	secret := []byte("fuzz-secret")
	f.Fuzz(func(t *testing.T, body []byte, isMultipart bool) {
		ct := "application/json"
		if isMultipart {
			ct = "multipart/form-data; boundary=" + boundary
		}
		var mr MediaRequest
		up, p := s.decodeMediaBody(ct, body, &mr)
		checkProblem(t, p)
		if p == nil {
			if !recipientRE.MatchString(mr.To) {
				t.Fatalf("accepted invalid recipient %q", mr.To)
			}
			if !zapbase.MessageType(mr.Type).IsMedia() {
				t.Fatalf("accepted non-media type %q", mr.Type)
			}
			if isMultipart && up == nil {
				t.Fatal("multipart accepted without a file")
			}
		}
		if p := s.validateInto(jsonAny(body), &SendRequest{}); p == nil {
			var sr SendRequest
			_ = s.validateInto(jsonAny(body), &sr)
			checkProblem(t, validateContent(zapbase.MessageType(sr.Type), &sr.Content, "body.content"))
			if len(sr.Content.Raw) != 0 {
				t.Fatal("raw content accepted from a client")
			}
		} else {
			checkProblem(t, p)
		}
		now := time.Unix(1_800_000_000, 0)
		sig := SignWebhook(secret, now.Unix(), body)
		if err := VerifyWebhook(secret, "1800000000", sig, body, now); err != nil {
			t.Fatalf("own signature refused: %v", err)
		}
		if err := VerifyWebhook(secret, "1800000000", sig, append(body, 'x'), now); err == nil {
			t.Fatal("tampered body accepted")
		}
	})
}

func jsonAny(b []byte) any {
	var v any
	if err := jsonUnmarshal(b, &v); err != nil {
		return string(b)
	}
	return v
}

func checkProblem(t *testing.T, p *Problem) {
	t.Helper()
	if p == nil {
		return
	}
	if p.Status < 400 || p.Status >= 500 || p.Code == "" || p.Message == "" {
		t.Fatalf("bad problem for client input: %+v", p)
	}
}

var jsonUnmarshal = func(b []byte, v any) error { return json.Unmarshal(b, v) }
