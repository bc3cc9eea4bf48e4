package meta

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptrace"
	"net/textproto"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// Graph API defaults.
const (
	DefaultBaseURL    = "https://graph.facebook.com"
	DefaultAPIVersion = "v26.0"
	// DefaultTimeout bounds one Graph API call (JSON answers; media
	// transfers get transferDeadline instead).
	DefaultTimeout = 30 * time.Second
	// Media transfers (upload, download) get a deadline scaled to their
	// size: transferBase plus the time to move the bytes at
	// transferMinRate, so a 100 MB document is not cut at 30 s and a
	// stalled one still ends (100 MB: about 14 min).
	transferBase    = 30 * time.Second
	transferMinRate = 128 << 10 // bytes per second
	// maxResponseBytes bounds a JSON answer of the Graph API.
	maxResponseBytes = 1 << 20
	// MaxMediaBytes is the largest media Meta accepts (documents, 100 MB).
	MaxMediaBytes = 100 << 20
)

// Client speaks the Graph API over net/http. It holds no credentials: every
// call gets the session's access token.
type Client struct {
	baseURL string
	version string
	http    *http.Client
	// transfer shares http's transport without its overall timeout: media
	// transfers are bounded by transferDeadline through their context.
	transfer *http.Client
}

// transferDeadline is the time allowed to move size bytes (unknown size:
// the largest media Meta accepts).
func transferDeadline(size int64) time.Duration {
	if size <= 0 || size > MaxMediaBytes {
		size = MaxMediaBytes
	}
	return transferBase + time.Duration(size/transferMinRate)*time.Second
}

// ClientConfig configures a Client.
type ClientConfig struct {
	// BaseURL of the Graph API (tests point it at a fake). Default
	// DefaultBaseURL.
	BaseURL string
	// APIVersion such as "v25.0". Default DefaultAPIVersion.
	APIVersion string
	// HTTPClient to use; default a client with DefaultTimeout.
	HTTPClient *http.Client
}

// NewClient returns a Graph API client.
func NewClient(cfg ClientConfig) *Client {
	c := &Client{baseURL: strings.TrimRight(cfg.BaseURL, "/"), version: cfg.APIVersion, http: cfg.HTTPClient}
	if c.baseURL == "" {
		c.baseURL = DefaultBaseURL
	}
	if c.version == "" {
		c.version = DefaultAPIVersion
	}
	if c.http == nil {
		c.http = &http.Client{Timeout: DefaultTimeout}
	}
	t := *c.http
	t.Timeout = 0
	c.transfer = &t
	return c
}

// GraphError is the error envelope of the Graph API:
// {"error":{"message","type","code","error_subcode","error_data":{"details"},"fbtrace_id"}}.
// Classify on Code, never on HTTPStatus or Message.
type GraphError struct {
	HTTPStatus int
	Code       int `json:"code"`
	Subcode    int `json:"error_subcode"`
	// IsTransient is the Graph API's own hint that retrying may succeed
	// ("is_transient": true); honoured for codes we do not know.
	IsTransient bool   `json:"is_transient"`
	Type        string `json:"type"`
	Message     string `json:"message"`
	ErrorData   struct {
		Details string `json:"details"`
	} `json:"error_data"`
	FBTraceID string `json:"fbtrace_id"`
}

func (e *GraphError) Error() string {
	s := fmt.Sprintf("graph api error %d (http %d): %s", e.Code, e.HTTPStatus, e.Message)
	if e.ErrorData.Details != "" {
		s += ": " + e.ErrorData.Details
	}
	if e.FBTraceID != "" {
		s += " (fbtrace_id " + e.FBTraceID + ")"
	}
	return s
}

// TransportError is a failure to get an answer from the Graph API. Written
// tells whether the request had been fully written when it failed: a send
// that failed after that may have been accepted (Meta has no idempotency key).
type TransportError struct {
	Written bool
	Err     error
}

func (e *TransportError) Error() string {
	if e.Written {
		return fmt.Sprintf("graph api: no answer after the request was written: %v", e.Err)
	}
	return fmt.Sprintf("graph api: request not delivered: %v", e.Err)
}
func (e *TransportError) Unwrap() error { return e.Err }

// HTTPError is a non-2xx answer without a Graph error envelope (a proxy or
// load balancer answered).
type HTTPError struct {
	Status int
	Body   string
}

func (e *HTTPError) Error() string { return fmt.Sprintf("graph api: http %d: %s", e.Status, e.Body) }

func (c *Client) url(path string) string {
	return c.baseURL + "/" + c.version + "/" + strings.TrimLeft(path, "/")
}

// do sends one request and decodes a 2xx JSON answer into out.
func (c *Client) do(ctx context.Context, method, url, token, contentType string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	return c.doStream(ctx, c.http, method, url, token, contentType, rd, int64(len(body)), out)
}

// doStream is do with a streamed body of length bytes and a chosen client.
func (c *Client) doStream(ctx context.Context, hc *http.Client, method, url, token, contentType string, rd io.Reader, length int64, out any) error {
	var written atomic.Bool
	ctx = httptrace.WithClientTrace(ctx, &httptrace.ClientTrace{
		WroteRequest: func(i httptrace.WroteRequestInfo) {
			if i.Err == nil {
				written.Store(true)
			}
		},
	})
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return fmt.Errorf("build graph request: %w", err)
	}
	if rd != nil {
		req.ContentLength = length
	}
	req.Header.Set("Authorization", "Bearer "+token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return &TransportError{Written: written.Load(), Err: err}
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes))
	if err != nil {
		// The server answered but the body was cut: it received the request.
		return &TransportError{Written: true, Err: fmt.Errorf("read answer: %w", err)}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return decodeError(resp.StatusCode, data)
	}
	if out == nil {
		return nil
	}
	if err := json.Unmarshal(data, out); err != nil {
		return &TransportError{Written: true, Err: fmt.Errorf("decode answer: %w", err)}
	}
	return nil
}

func decodeError(status int, data []byte) error {
	var env struct {
		Error *GraphError `json:"error"`
	}
	if err := json.Unmarshal(data, &env); err == nil && env.Error != nil {
		env.Error.HTTPStatus = status
		return env.Error
	}
	body := string(data)
	if len(body) > 200 {
		body = body[:200]
	}
	return &HTTPError{Status: status, Body: body}
}

// sendResponse is the answer of POST /{phone-number-id}/messages.
type sendResponse struct {
	Contacts []struct {
		Input  string `json:"input"`
		WaID   string `json:"wa_id"`
		UserID string `json:"user_id"`
	} `json:"contacts"`
	Messages []struct {
		ID            string `json:"id"`
		MessageStatus string `json:"message_status"`
	} `json:"messages"`
	Success bool `json:"success"`
}

// postMessages posts a body to /{phone-number-id}/messages.
func (c *Client) postMessages(ctx context.Context, phoneNumberID, token string, body any) (*sendResponse, error) {
	raw, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encode message: %w", err)
	}
	var out sendResponse
	if err := c.do(ctx, http.MethodPost, c.url(phoneNumberID+"/messages"), token, "application/json", raw, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

// uploadMedia streams multipart media to /{phone-number-id}/media: the
// form's fields and part header, then the file copied from r as the
// request is sent (never held whole in memory), then the closing boundary,
// with an exact Content-Length. size scales the transfer deadline.
func (c *Client) uploadMedia(ctx context.Context, phoneNumberID, token, mimeType, filename string, r io.Reader, size int64) (string, error) {
	var head bytes.Buffer
	w := multipart.NewWriter(&head)
	_ = w.WriteField("messaging_product", "whatsapp")
	_ = w.WriteField("type", mimeType)
	h := make(textproto.MIMEHeader)
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, filename))
	h.Set("Content-Type", mimeType)
	if _, err := w.CreatePart(h); err != nil {
		return "", fmt.Errorf("build upload: %w", err)
	}
	// What multipart.Writer.Close writes after the last part.
	tail := "\r\n--" + w.Boundary() + "--\r\n"
	body := io.MultiReader(&head, io.LimitReader(r, size), strings.NewReader(tail))
	length := int64(head.Len()) + size + int64(len(tail))
	ctx, cancel := context.WithTimeout(ctx, transferDeadline(size))
	defer cancel()
	var out struct {
		ID string `json:"id"`
	}
	if err := c.doStream(ctx, c.transfer, http.MethodPost, c.url(phoneNumberID+"/media"), token, w.FormDataContentType(), body, length, &out); err != nil {
		return "", err
	}
	if out.ID == "" {
		return "", errors.New("graph api: upload answered without a media id")
	}
	return out.ID, nil
}

// mediaInfo is the answer of GET /{media-id}.
type mediaInfo struct {
	URL      string   `json:"url"`
	MimeType string   `json:"mime_type"`
	SHA256   string   `json:"sha256"`
	FileSize flexSize `json:"file_size"`
	ID       string   `json:"id"`
}

// flexSize decodes file_size, which Meta's spec types as a string
// ("303833") and its samples show as a number: both are accepted, and a
// value that is neither never fails the download (0: unknown).
type flexSize int64

// UnmarshalJSON implements json.Unmarshaler.
func (f *flexSize) UnmarshalJSON(b []byte) error {
	s := strings.Trim(strings.TrimSpace(string(b)), `"`)
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n < 0 {
		*f = 0
		return nil
	}
	*f = flexSize(n)
	return nil
}

func (c *Client) getMedia(ctx context.Context, mediaID, phoneNumberID, token string) (*mediaInfo, error) {
	var out mediaInfo
	u := c.url(mediaID) + "?phone_number_id=" + phoneNumberID
	if err := c.do(ctx, http.MethodGet, u, token, "", nil, &out); err != nil {
		return nil, err
	}
	if out.URL == "" {
		return nil, errors.New("graph api: media answered without a url")
	}
	return &out, nil
}

// errMediaTooLarge: the download is larger than allowed (permanent).
var errMediaTooLarge = errors.New("media larger than allowed")

// download streams a media URL with the bearer token (lookaside URLs need
// it) into sink, reading at most limit bytes, under a deadline scaled to
// size (the file_size Meta announced; 0 if unknown). It returns the
// Content-Type of the answer. Nothing is buffered beyond what sink keeps.
func (c *Client) download(ctx context.Context, url, token string, size, limit int64, sink func(io.Reader, string) error) error {
	ctx, cancel := context.WithTimeout(ctx, transferDeadline(size))
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("build download: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.transfer.Do(req)
	if err != nil {
		return &TransportError{Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return decodeError(resp.StatusCode, data)
	}
	if resp.ContentLength > limit {
		return fmt.Errorf("%w: %d bytes (limit %d)", errMediaTooLarge, resp.ContentLength, limit)
	}
	lr := &limitedReader{r: resp.Body, n: limit}
	if err := sink(lr, resp.Header.Get("Content-Type")); err != nil {
		if lr.over {
			return fmt.Errorf("%w: limit %d", errMediaTooLarge, limit)
		}
		if ctx.Err() != nil || errors.Is(err, io.ErrUnexpectedEOF) {
			return &TransportError{Written: true, Err: err}
		}
		return err
	}
	return nil
}

// limitedReader fails once more than n bytes are read (io.LimitReader
// would silently truncate).
type limitedReader struct {
	r    io.Reader
	n    int64
	over bool
}

var errReadLimit = errors.New("read limit exceeded")

func (l *limitedReader) Read(p []byte) (int, error) {
	if l.n < 0 {
		l.over = true
		return 0, errReadLimit
	}
	if int64(len(p)) > l.n+1 {
		p = p[:l.n+1]
	}
	n, err := l.r.Read(p)
	l.n -= int64(n)
	if l.n < 0 {
		l.over = true
		return n, errReadLimit
	}
	return n, err
}

// phoneNumberInfo is the answer of GET /{phone-number-id}.
type phoneNumberInfo struct {
	ID                 string `json:"id"`
	DisplayPhoneNumber string `json:"display_phone_number"`
	VerifiedName       string `json:"verified_name"`
	QualityRating      string `json:"quality_rating"`
}

func (c *Client) getPhoneNumber(ctx context.Context, phoneNumberID, token string) (*phoneNumberInfo, error) {
	var out phoneNumberInfo
	u := c.url(phoneNumberID) + "?fields=id,display_phone_number,verified_name,quality_rating"
	if err := c.do(ctx, http.MethodGet, u, token, "", nil, &out); err != nil {
		return nil, err
	}
	return &out, nil
}
