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
	"strings"
	"sync/atomic"
	"time"
)

// Graph API defaults.
const (
	DefaultBaseURL    = "https://graph.facebook.com"
	DefaultAPIVersion = "v25.0"
	// DefaultTimeout bounds one Graph API call.
	DefaultTimeout = 30 * time.Second
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
	return c
}

// GraphError is the error envelope of the Graph API:
// {"error":{"message","type","code","error_subcode","error_data":{"details"},"fbtrace_id"}}.
// Classify on Code, never on HTTPStatus or Message.
type GraphError struct {
	HTTPStatus int
	Code       int    `json:"code"`
	Subcode    int    `json:"error_subcode"`
	Type       string `json:"type"`
	Message    string `json:"message"`
	ErrorData  struct {
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
	req.Header.Set("Authorization", "Bearer "+token)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.http.Do(req)
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

// uploadMedia posts multipart media to /{phone-number-id}/media.
func (c *Client) uploadMedia(ctx context.Context, phoneNumberID, token, mimeType, filename string, data []byte) (string, error) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	_ = w.WriteField("messaging_product", "whatsapp")
	_ = w.WriteField("type", mimeType)
	h := make(textproto.MIMEHeader)
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename=%q`, filename))
	h.Set("Content-Type", mimeType)
	part, err := w.CreatePart(h)
	if err != nil {
		return "", fmt.Errorf("build upload: %w", err)
	}
	if _, err := part.Write(data); err != nil {
		return "", fmt.Errorf("build upload: %w", err)
	}
	if err := w.Close(); err != nil {
		return "", fmt.Errorf("build upload: %w", err)
	}
	var out struct {
		ID string `json:"id"`
	}
	if err := c.do(ctx, http.MethodPost, c.url(phoneNumberID+"/media"), token, w.FormDataContentType(), buf.Bytes(), &out); err != nil {
		return "", err
	}
	if out.ID == "" {
		return "", errors.New("graph api: upload answered without a media id")
	}
	return out.ID, nil
}

// mediaInfo is the answer of GET /{media-id}.
type mediaInfo struct {
	URL      string `json:"url"`
	MimeType string `json:"mime_type"`
	SHA256   string `json:"sha256"`
	FileSize int64  `json:"file_size"`
	ID       string `json:"id"`
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

// download fetches a media URL with the bearer token (lookaside URLs need
// it), reading at most limit bytes.
func (c *Client) download(ctx context.Context, url, token string, limit int64) ([]byte, string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, "", fmt.Errorf("build download: %w", err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.http.Do(req)
	if err != nil {
		return nil, "", &TransportError{Err: err}
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		data, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
		return nil, "", decodeError(resp.StatusCode, data)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, "", &TransportError{Written: true, Err: err}
	}
	if int64(len(data)) > limit {
		return nil, "", fmt.Errorf("media larger than %d bytes", limit)
	}
	return data, resp.Header.Get("Content-Type"), nil
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
