package api

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/danielgtaylor/huma/v2"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/media"
	"github.com/zapbase/zapbase/providers"
)

// mediaBodyLimit: a base64 upload of MaxMediaUploadBytes plus the form.
const mediaBodyLimit = MaxMediaUploadBytes*4/3 + 64<<10

type rawSendInput struct {
	SendParams
	ContentType string `header:"Content-Type"`
	RawBody     []byte
}

// uploaded is the decoded media of a JSON or multipart request.
type uploaded struct {
	data     []byte
	filename string
	mime     string
}

func (s *Server) registerMedia(tags []string, sendErrors []int) {
	reg := s.api.OpenAPI().Components.Schemas
	multipartSchema := func(extra map[string]*huma.Schema, required ...string) *huma.Schema {
		props := map[string]*huma.Schema{
			"file":     {Type: "string", Format: "binary", Description: "Arquivo da mídia"},
			"to":       {Type: "string", Description: "Destinatário (dígitos internacionais)", Examples: []any{"5511988887777"}},
			"provider": {Type: "string", Enum: []any{"baileys", "meta_api", "sandbox", "auto"}},
			"from":     {Type: "string", Description: "Número da sessão que envia (opcional)"},
			"mimeType": {Type: "string"},
			"enableAI": {Type: "boolean"},
			"agentId":  {Type: "string", Format: "uuid"},
		}
		for k, v := range extra {
			props[k] = v
		}
		return &huma.Schema{Type: "object", Properties: props, Required: append([]string{"to", "file"}, required...)}
	}
	mediaOp := s.tenantOp(huma.Operation{
		OperationID: "send-media", Method: http.MethodPost, Path: "/messages/media", Tags: tags,
		Summary: "Envia imagem, vídeo, documento, figurinha ou áudio",
		Description: "Três formas: upload `multipart/form-data` (campo `file`), JSON com `mediaUrl` (o provedor baixa a URL) ou JSON com `mediaBase64`. " +
			"Uploads vão para o armazenamento de mídia (Supabase Storage, ou diretório local em desenvolvimento) com verificação de tamanho e tipo: " +
			"imagem até 5 MiB (jpeg, png, webp), vídeo até 16 MiB (mp4, 3gpp), áudio até 16 MiB, figurinha até 500 KiB (webp); uploads pela API até 25 MiB.",
		Errors:       sendErrors,
		MaxBodyBytes: mediaBodyLimit,
		// The body is decoded and validated by decodeMediaBody (JSON or
		// multipart); huma only reads it.
		SkipValidateBody: true,
		RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
			"application/json": {Schema: reg.Schema(reflect.TypeFor[MediaRequest](), true, "MediaRequest")},
			"multipart/form-data": {Schema: multipartSchema(map[string]*huma.Schema{
				"type":     {Type: "string", Enum: []any{"image", "video", "audio", "voice", "document", "sticker"}},
				"caption":  {Type: "string"},
				"filename": {Type: "string"},
			}, "type")},
		}},
	})
	huma.Register(s.v1, mediaOp, func(ctx context.Context, in *rawSendInput) (*sendOutput, error) {
		var req MediaRequest
		up, p := s.decodeMediaBody(in.ContentType, in.RawBody, &req)
		if p != nil {
			return nil, p
		}
		return s.sendMedia(ctx, in.SendParams, req.SendCommon, zapbase.MessageType(req.Type), req.MediaURL, req.MediaBase64,
			req.MimeType, providers.Content{Caption: req.Caption, Filename: req.Filename}, up, req)
	})

	audioOp := s.tenantOp(huma.Operation{
		OperationID: "send-audio", Method: http.MethodPost, Path: "/messages/audio", Tags: tags,
		Summary:      "Envia um áudio ou mensagem de voz",
		Description:  "Como `/messages/media`, para áudio. `voice: true` envia como mensagem de voz (PTT; use ogg/opus).",
		Errors:       sendErrors,
		MaxBodyBytes: mediaBodyLimit,
		// The body is decoded and validated by decodeMediaBody (JSON or
		// multipart); huma only reads it.
		SkipValidateBody: true,
		RequestBody: &huma.RequestBody{Required: true, Content: map[string]*huma.MediaType{
			"application/json":    {Schema: reg.Schema(reflect.TypeFor[AudioRequest](), true, "AudioRequest")},
			"multipart/form-data": {Schema: multipartSchema(map[string]*huma.Schema{"voice": {Type: "boolean"}})},
		}},
	})
	huma.Register(s.v1, audioOp, func(ctx context.Context, in *rawSendInput) (*sendOutput, error) {
		var req AudioRequest
		up, p := s.decodeMediaBody(in.ContentType, in.RawBody, &req)
		if p != nil {
			return nil, p
		}
		typ := zapbase.MessageAudio
		if req.Voice {
			typ = zapbase.MessageVoice
		}
		return s.sendMedia(ctx, in.SendParams, req.SendCommon, typ, req.MediaURL, req.MediaBase64, req.MimeType, providers.Content{}, up, req)
	})
}

func (s *Server) sendMedia(ctx context.Context, q SendParams, c SendCommon, typ zapbase.MessageType, mediaURL, b64, mimeType string, content providers.Content, up *uploaded, body any) (*sendOutput, error) {
	t := MustTenant(ctx)
	sources := 0
	for _, present := range []bool{mediaURL != "", b64 != "", up != nil} {
		if present {
			sources++
		}
	}
	if sources != 1 {
		return nil, errInvalid("Informe exatamente uma fonte de mídia: arquivo (multipart), mediaUrl ou mediaBase64.",
			FieldError{Location: "body.mediaUrl", Message: "informe exatamente uma fonte de mídia"})
	}
	if b64 != "" {
		data, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
		if err != nil {
			return nil, errInvalid("mediaBase64 não é base64 válido.", FieldError{Location: "body.mediaBase64", Message: "base64 inválido"})
		}
		up = &uploaded{data: data, filename: content.Filename, mime: mimeType}
	}
	if mediaURL != "" {
		if !validMediaURL(mediaURL) {
			return nil, errInvalid("mediaUrl inválida.", FieldError{Location: "body.mediaUrl", Message: "URL http(s) absoluta inválida"})
		}
		content.MediaURL, content.MimeType = mediaURL, mimeType
	}
	// Check everything that needs no storage before storing anything.
	row, p := s.prepare(ctx, t, c, typ, content, "body", nil)
	if p != nil {
		return nil, p
	}
	if up != nil {
		if len(up.data) > MaxMediaUploadBytes {
			return nil, NewProblem(http.StatusRequestEntityTooLarge, media.CodeTooLarge, "Arquivo maior que o limite de upload da API (25 MiB); envie por URL.")
		}
		mt, err := media.Check(typ, up.mime, up.data)
		if err != nil {
			return nil, FromError(http.StatusUnprocessableEntity, err)
		}
		if s.p.Media == nil {
			return nil, NewProblem(http.StatusServiceUnavailable, zapbase.CodeMediaStoreUnavailable, "Armazenamento de mídia não configurado.")
		}
		obj, err := s.p.Media.Put(ctx, t.ClientID, up.filename, mt, up.data)
		if err != nil {
			return nil, NewProblem(http.StatusBadGateway, zapbase.CodeMediaStoreFailed, "Falha ao gravar a mídia; tente novamente.").WithCause(err)
		}
		row.Content.MediaPath, row.Content.MediaURL, row.Content.MimeType, row.Content.SizeBytes = obj.Path, obj.URL, obj.MimeType, obj.Size
		if row.Content.Filename == "" && typ == zapbase.MessageDocument {
			row.Content.Filename = up.filename
		}
	}
	return s.sendRow(ctx, t, q, row, requestHash("media:"+string(typ), body))
}

// decodeMediaBody decodes a JSON or multipart body into dst (validated
// against dst's schema) and returns the uploaded file, if any.
func (s *Server) decodeMediaBody(contentType string, raw []byte, dst any) (*uploaded, *Problem) {
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		mt = "application/json"
	}
	switch mt {
	case "application/json", "":
		var v any
		if err := json.Unmarshal(raw, &v); err != nil {
			return nil, NewProblem(http.StatusBadRequest, zapbase.CodeInvalidInput, "JSON inválido.", FieldError{Location: "body", Message: err.Error()})
		}
		if m, ok := v.(map[string]any); ok {
			mediaAliases(m, dst)
		}
		return nil, s.validateInto(v, dst)
	case "multipart/form-data":
		boundary := params["boundary"]
		if boundary == "" {
			return nil, NewProblem(http.StatusBadRequest, zapbase.CodeInvalidInput, "multipart sem boundary.")
		}
		form, err := multipart.NewReader(bytes.NewReader(raw), boundary).ReadForm(mediaBodyLimit)
		if err != nil {
			return nil, NewProblem(http.StatusBadRequest, zapbase.CodeInvalidInput, "Formulário multipart inválido.", FieldError{Location: "body", Message: err.Error()})
		}
		defer form.RemoveAll()
		v := map[string]any{}
		for k, vals := range form.Value {
			if len(vals) == 0 {
				continue
			}
			switch k {
			case "enableAI", "voice":
				b, err := strconv.ParseBool(vals[0])
				if err != nil {
					return nil, errInvalid("Campo booleano inválido.", FieldError{Location: "body." + k, Message: "use true ou false", Value: vals[0]})
				}
				v[k] = b
			default:
				v[k] = vals[0]
			}
		}
		files := form.File["file"]
		if len(files) != 1 {
			return nil, errInvalid("Envie exatamente um arquivo no campo file.", FieldError{Location: "body.file", Message: "obrigatório"})
		}
		f, err := files[0].Open()
		if err != nil {
			return nil, Internal(err)
		}
		data, err := io.ReadAll(io.LimitReader(f, MaxMediaUploadBytes+1))
		f.Close()
		if err != nil {
			return nil, Internal(err)
		}
		mediaAliases(v, dst)
		if p := s.validateInto(v, dst); p != nil {
			return nil, p
		}
		declared := files[0].Header.Get("Content-Type")
		if m, ok := v["mimeType"].(string); ok && m != "" {
			declared = m
		}
		return &uploaded{data: data, filename: files[0].Filename, mime: declared}, nil
	}
	return nil, NewProblem(http.StatusUnsupportedMediaType, zapbase.CodeUnsupportedContentType, "Use application/json ou multipart/form-data.")
}

// mediaAliases accepts the field names spec readers send: mediaType for
// type (a kind such as "image", or a MIME type such as "image/jpeg") and,
// for audio, audioUrl for mediaUrl. The canonical names win when both are
// present.
func mediaAliases(v map[string]any, dst any) {
	rename := func(from, to string) {
		if x, ok := v[from]; ok {
			if _, has := v[to]; !has {
				v[to] = x
			}
			delete(v, from)
		}
	}
	mt, _ := v["mediaType"].(string)
	switch dst.(type) {
	case *AudioRequest:
		rename("audioUrl", "mediaUrl")
		if mt == string(zapbase.MessageVoice) {
			if _, has := v["voice"]; !has {
				v["voice"] = true
			}
		} else if strings.Contains(mt, "/") {
			if _, has := v["mimeType"]; !has {
				v["mimeType"] = mt
			}
		}
		if mt == string(zapbase.MessageVoice) || mt == string(zapbase.MessageAudio) || strings.Contains(mt, "/") {
			delete(v, "mediaType")
		}
	case *MediaRequest:
		if kind, _, ok := strings.Cut(mt, "/"); ok {
			if _, has := v["mimeType"]; !has {
				v["mimeType"] = mt
			}
			switch kind {
			case "image", "video", "audio":
				v["mediaType"] = kind
			default:
				v["mediaType"] = string(zapbase.MessageDocument)
			}
		}
		rename("mediaType", "type")
	}
}

// validateInto validates a decoded JSON value against dst's schema (same
// rules and messages as huma's own validation) and decodes it into dst.
func (s *Server) validateInto(v any, dst any) *Problem {
	reg := s.api.OpenAPI().Components.Schemas
	schema := reg.Schema(reflect.TypeOf(dst).Elem(), true, "")
	res := &huma.ValidateResult{}
	huma.Validate(reg, schema, huma.NewPathBuffer([]byte("body"), 0), huma.ModeWriteToServer, v, res)
	if len(res.Errors) > 0 {
		return humaProblem(http.StatusUnprocessableEntity, "validation failed", res.Errors...)
	}
	b, _ := json.Marshal(v)
	if err := json.Unmarshal(b, dst); err != nil {
		var ute *json.UnmarshalTypeError
		if errors.As(err, &ute) {
			return errInvalid("Dados de entrada inválidos.", FieldError{Location: "body." + ute.Field, Message: "tipo inválido"})
		}
		return errInvalid("Dados de entrada inválidos.", FieldError{Location: "body", Message: err.Error()})
	}
	return nil
}
