// Package metafake is a local fake of Meta's Graph API (WhatsApp Cloud API)
// speaking its wire format: message sends, mark-read, media upload/get/
// download, phone number lookup, and Meta's error envelopes (from the
// fixtures in fixtures/). Tests of the meta provider, the conformance suite,
// end-to-end suites and benchmarks point the provider's base URL at it.
//
// It checks what Meta checks that matters to a client: the bearer token of
// the number, messaging_product, exactly one of to/recipient, and the object
// matching "type". Outcomes can be scripted per recipient (a Meta error, or a
// hang that makes the client time out after writing the request).
package metafake

// File size: one fake Graph API server whose handlers share the scripted
// outcomes and recorded requests; the fixtures live in testdata/.

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
)

//go:embed fixtures/*.json fixtures/README.md
var fixtures embed.FS

// Fixture returns the bytes of a fixture file (e.g. "webhook_text.json").
// It panics when the file does not exist (a test bug).
func Fixture(name string) []byte {
	b, err := fixtures.ReadFile("fixtures/" + name)
	if err != nil {
		panic(fmt.Sprintf("metafake: fixture %s: %v", name, err))
	}
	return b
}

// FixtureNames lists the fixture files whose name starts with prefix.
func FixtureNames(prefix string) []string {
	entries, _ := fixtures.ReadDir("fixtures")
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), prefix) && strings.HasSuffix(e.Name(), ".json") {
			out = append(out, e.Name())
		}
	}
	return out
}

// Outcome is a scripted answer.
type Outcome struct {
	// Status and Body of the answer (Body typically an error fixture).
	Status int
	Body   []byte
	// Hang blocks until the client gives up (a timeout after the request
	// was written).
	Hang bool
}

// ErrorOutcome answers with an error fixture and the HTTP status Meta's
// former table listed for it.
func ErrorOutcome(fixture string, status int) Outcome {
	return Outcome{Status: status, Body: Fixture(fixture)}
}

// Number is a business phone number the fake knows.
type Number struct {
	PhoneNumberID string
	Display       string // digits
	Token         string
}

// Request is a recorded request.
type Request struct {
	Method string
	Path   string
	Auth   string
	Body   []byte
	// Form fields of a multipart upload.
	Form map[string]string
	// File of a multipart upload.
	File     []byte
	FileType string
}

// Media is an uploaded or inbound media file.
type Media struct {
	Data     []byte
	MimeType string
}

// Server is the fake Graph API.
type Server struct {
	*httptest.Server

	mu       sync.Mutex
	numbers  map[string]Number
	requests []Request
	// waIDs maps the digits of "to" to the wa_id Meta answers (Brazil's
	// ninth digit); default: the digits themselves.
	waIDs   map[string]string
	script  map[string][]Outcome // by recipient digits or BSUID; "*" for any
	phone   []Outcome            // scripted answers of GET /{phone-number-id}
	mediaQ  []Outcome            // scripted answers of GET /{media-id}
	media   map[string]Media
	counter int
	hang    chan struct{}
	// onDownload, when set, runs before a media download is answered.
	onDownload func(id string)
}

// OnDownload sets a function run before each media download is answered
// (tests observe what the client did before the transfer).
func (s *Server) OnDownload(f func(id string)) {
	s.mu.Lock()
	s.onDownload = f
	s.mu.Unlock()
}

// New starts a fake Graph API serving the given numbers. Close it when done.
func New(numbers ...Number) *Server {
	s := &Server{numbers: map[string]Number{}, waIDs: map[string]string{}, script: map[string][]Outcome{},
		media: map[string]Media{}, hang: make(chan struct{})}
	for _, n := range numbers {
		s.numbers[n.PhoneNumberID] = n
	}
	s.Server = httptest.NewServer(http.HandlerFunc(s.serve))
	return s
}

// Close releases hanging requests and stops the server.
func (s *Server) Close() {
	s.mu.Lock()
	select {
	case <-s.hang:
	default:
		close(s.hang)
	}
	s.mu.Unlock()
	s.Server.Close()
}

// SetWaID makes sends to input (any phone format) answer with wa_id.
func (s *Server) SetWaID(input, waID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.waIDs[digits(input)] = waID
}

// Script queues outcomes for sends to a recipient ("*": any recipient).
func (s *Server) Script(recipient string, outcomes ...Outcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	key := recipient
	if key != "*" && !strings.Contains(key, ".") {
		key = digits(key)
	}
	s.script[key] = append(s.script[key], outcomes...)
}

// ScriptPhoneLookup queues outcomes of GET /{phone-number-id}.
func (s *Server) ScriptPhoneLookup(outcomes ...Outcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.phone = append(s.phone, outcomes...)
}

// ScriptMediaLookup queues outcomes of GET /{media-id}.
func (s *Server) ScriptMediaLookup(outcomes ...Outcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.mediaQ = append(s.mediaQ, outcomes...)
}

// AddMedia makes a media id downloadable (inbound media).
func (s *Server) AddMedia(id string, m Media) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.media[id] = m
}

// Requests returns the recorded requests.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Sends returns the bodies of POST /{id}/messages requests.
func (s *Server) Sends() [][]byte {
	var out [][]byte
	for _, r := range s.Requests() {
		if r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/messages") {
			out = append(out, r.Body)
		}
	}
	return out
}

var versionPath = regexp.MustCompile(`^/v[0-9]+\.[0-9]+/(.+)$`)

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	rec := Request{Method: r.Method, Path: r.URL.Path, Auth: r.Header.Get("Authorization"), Body: body}
	if strings.HasPrefix(r.URL.Path, "/download/") {
		s.record(rec)
		s.download(w, r, strings.TrimPrefix(r.URL.Path, "/download/"))
		return
	}
	m := versionPath.FindStringSubmatch(r.URL.Path)
	if m == nil {
		s.record(rec)
		writeJSON(w, http.StatusBadRequest, Fixture("error_100_invalid_parameter.json"))
		return
	}
	parts := strings.Split(m[1], "/")
	switch {
	case r.Method == http.MethodPost && len(parts) == 2 && parts[1] == "messages":
		s.record(rec)
		s.messages(w, r, parts[0], body)
	case r.Method == http.MethodPost && len(parts) == 2 && parts[1] == "media":
		s.upload(w, r, parts[0], rec, body)
	case r.Method == http.MethodGet && len(parts) == 1:
		s.record(rec)
		s.get(w, r, parts[0])
	case r.Method == http.MethodDelete && len(parts) == 1:
		s.record(rec)
		s.mu.Lock()
		delete(s.media, parts[0])
		s.mu.Unlock()
		writeJSON(w, http.StatusOK, Fixture("media_delete_response.json"))
	default:
		s.record(rec)
		writeJSON(w, http.StatusBadRequest, Fixture("error_100_invalid_parameter.json"))
	}
}

func (s *Server) record(r Request) {
	s.mu.Lock()
	s.requests = append(s.requests, r)
	s.mu.Unlock()
}

// authorized checks the bearer token of a number (190 + HTTP 401 otherwise).
func (s *Server) authorized(w http.ResponseWriter, r *http.Request, phoneNumberID string) bool {
	s.mu.Lock()
	n, ok := s.numbers[phoneNumberID]
	s.mu.Unlock()
	if !ok {
		writeJSON(w, http.StatusBadRequest, Fixture("error_100_invalid_parameter.json"))
		return false
	}
	if r.Header.Get("Authorization") != "Bearer "+n.Token {
		writeJSON(w, http.StatusUnauthorized, Fixture("error_190_token_expired.json"))
		return false
	}
	return true
}

func (s *Server) anyToken(r *http.Request) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range s.numbers {
		if r.Header.Get("Authorization") == "Bearer "+n.Token {
			return true
		}
	}
	return false
}

var mediaTypes = map[string]bool{"image": true, "video": true, "audio": true, "document": true, "sticker": true}

func (s *Server) messages(w http.ResponseWriter, r *http.Request, phoneNumberID string, body []byte) {
	if !s.authorized(w, r, phoneNumberID) {
		return
	}
	var msg map[string]json.RawMessage
	if json.Unmarshal(body, &msg) != nil || string(msg["messaging_product"]) != `"whatsapp"` {
		writeJSON(w, http.StatusBadRequest, Fixture("error_100_invalid_parameter.json"))
		return
	}
	if _, ok := msg["status"]; ok { // mark as read (+ typing)
		if _, ok := msg["message_id"]; !ok || string(msg["status"]) != `"read"` {
			writeJSON(w, http.StatusBadRequest, Fixture("error_100_invalid_parameter.json"))
			return
		}
		writeJSON(w, http.StatusOK, Fixture("mark_read_response.json"))
		return
	}
	var to, recipient, typ string
	_ = json.Unmarshal(msg["to"], &to)
	_ = json.Unmarshal(msg["recipient"], &recipient)
	_ = json.Unmarshal(msg["type"], &typ)
	if (to == "") == (recipient == "") || typ == "" || len(msg[typ]) == 0 {
		writeJSON(w, http.StatusBadRequest, Fixture("error_100_invalid_parameter.json"))
		return
	}
	if mediaTypes[typ] {
		var obj map[string]json.RawMessage
		_ = json.Unmarshal(msg[typ], &obj)
		_, hasID := obj["id"]
		_, hasLink := obj["link"]
		if hasID == hasLink {
			writeJSON(w, http.StatusBadRequest, Fixture("error_100_invalid_parameter.json"))
			return
		}
	}
	key := recipient
	if key == "" {
		key = digits(to)
	}
	if out, ok := s.next(key); ok {
		s.answer(w, r, out)
		return
	}
	s.mu.Lock()
	s.counter++
	n := s.counter
	waID := s.waIDs[key]
	s.mu.Unlock()
	if waID == "" && recipient == "" {
		waID = key
	}
	contact := map[string]string{"input": firstNonEmpty(to, recipient)}
	if waID != "" {
		contact["wa_id"] = waID
	}
	if recipient != "" {
		contact["user_id"] = recipient
	}
	resp := map[string]any{
		"messaging_product": "whatsapp",
		"contacts":          []any{contact},
		"messages":          []any{map[string]string{"id": NewWAMID(firstNonEmpty(waID, key), n)}},
	}
	if string(msg["recipient_type"]) == `"group"` {
		// A group send names the group, not a contact.
		resp["contacts"] = []any{}
		resp["messages"] = []any{map[string]string{"id": NewWAMID(digits(to), n), "group_id": to}}
	}
	b, _ := json.Marshal(resp)
	writeJSON(w, http.StatusOK, b)
}

func (s *Server) next(key string) (Outcome, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, k := range []string{key, "*"} {
		if q := s.script[k]; len(q) > 0 {
			s.script[k] = q[1:]
			return q[0], true
		}
	}
	return Outcome{}, false
}

func (s *Server) answer(w http.ResponseWriter, r *http.Request, out Outcome) {
	if out.Hang {
		select {
		case <-r.Context().Done():
		case <-s.hang:
		}
		return
	}
	if out.Body == nil {
		w.WriteHeader(out.Status)
		return
	}
	writeJSON(w, out.Status, out.Body)
}

func (s *Server) upload(w http.ResponseWriter, r *http.Request, phoneNumberID string, rec Request, body []byte) {
	r.Body = io.NopCloser(strings.NewReader(string(body)))
	if err := r.ParseMultipartForm(200 << 20); err != nil {
		s.record(rec)
		writeJSON(w, http.StatusBadRequest, Fixture("error_100_invalid_parameter.json"))
		return
	}
	rec.Form = map[string]string{}
	for k, v := range r.MultipartForm.Value {
		rec.Form[k] = v[0]
	}
	if fh := r.MultipartForm.File["file"]; len(fh) > 0 {
		f, err := fh[0].Open()
		if err == nil {
			rec.File, _ = io.ReadAll(f)
			f.Close()
			rec.FileType = fh[0].Header.Get("Content-Type")
		}
	}
	rec.Body = nil
	s.record(rec)
	if !s.authorized(w, r, phoneNumberID) {
		return
	}
	if rec.Form["messaging_product"] != "whatsapp" || len(rec.File) == 0 {
		writeJSON(w, http.StatusBadRequest, Fixture("error_100_invalid_parameter.json"))
		return
	}
	id := randomDigits(16)
	s.AddMedia(id, Media{Data: rec.File, MimeType: firstNonEmpty(rec.Form["type"], rec.FileType)})
	b, _ := json.Marshal(map[string]string{"id": id})
	writeJSON(w, http.StatusOK, b)
}

func (s *Server) get(w http.ResponseWriter, r *http.Request, id string) {
	s.mu.Lock()
	n, isNumber := s.numbers[id]
	media, isMedia := s.media[id]
	var scripted *Outcome
	if isNumber && len(s.phone) > 0 {
		o := s.phone[0]
		s.phone = s.phone[1:]
		scripted = &o
	}
	if isMedia && len(s.mediaQ) > 0 {
		o := s.mediaQ[0]
		s.mediaQ = s.mediaQ[1:]
		scripted = &o
	}
	s.mu.Unlock()
	switch {
	case isNumber:
		if scripted != nil {
			s.answer(w, r, *scripted)
			return
		}
		if !s.authorized(w, r, id) {
			return
		}
		b, _ := json.Marshal(map[string]string{"id": n.PhoneNumberID, "display_phone_number": "+" + n.Display,
			"verified_name": "Loja Exemplo", "quality_rating": "GREEN"})
		writeJSON(w, http.StatusOK, b)
	case isMedia:
		if scripted != nil {
			s.answer(w, r, *scripted)
			return
		}
		if !s.anyToken(r) {
			writeJSON(w, http.StatusUnauthorized, Fixture("error_190_token_expired.json"))
			return
		}
		var info map[string]any
		_ = json.Unmarshal(Fixture("media_get_response.json"), &info)
		info["id"] = id
		info["mime_type"] = media.MimeType
		// Meta's spec types file_size as a string ("303833").
		info["file_size"] = strconv.Itoa(len(media.Data))
		info["url"] = s.URL + "/download/" + id + "?hash=fake"
		b, _ := json.Marshal(info)
		writeJSON(w, http.StatusOK, b)
	default:
		writeJSON(w, http.StatusBadRequest, Fixture("error_100_invalid_parameter.json"))
	}
}

func (s *Server) download(w http.ResponseWriter, r *http.Request, id string) {
	if !s.anyToken(r) {
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	s.mu.Lock()
	m, ok := s.media[id]
	hook := s.onDownload
	s.mu.Unlock()
	if !ok {
		w.WriteHeader(http.StatusNotFound)
		return
	}
	if hook != nil {
		hook(id)
	}
	w.Header().Set("Content-Type", m.MimeType)
	_, _ = w.Write(m.Data)
}

func writeJSON(w http.ResponseWriter, status int, body []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

var nonDigits = regexp.MustCompile(`[^0-9]`)

func digits(s string) string { return nonDigits.ReplaceAllString(s, "") }

func firstNonEmpty(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// NewWAMID builds a wamid shaped like Meta's (base64 of the recipient and a
// hex id).
func NewWAMID(recipient string, n int) string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	raw := fmt.Sprintf("\x18\x0d%s\x15\x02\x00\x11\x18\x12%s%04X\x00", recipient, strings.ToUpper(hex.EncodeToString(b[:])), n%65536)
	return "wamid." + base64.StdEncoding.EncodeToString([]byte(raw))
}

func randomDigits(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = '1' + b[i]%9
	}
	return string(b)
}

// PostWebhook delivers body to a webhook URL as Meta does: POST,
// application/json, X-Hub-Signature-256 over the exact bytes.
func PostWebhook(client *http.Client, url, appSecret string, body []byte) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(string(body)))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-Hub-Signature-256", Sign(appSecret, body))
	return client.Do(req)
}

// Sign is "sha256=" + hex(HMAC-SHA256(appSecret, body)).
func Sign(appSecret string, body []byte) string {
	m := hmac.New(sha256.New, []byte(appSecret))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}
