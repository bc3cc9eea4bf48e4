package store

// The statements providers need on public.messages: reads through their
// narrow store interfaces, writes through the host's event sink
// (dispatch.Events), never SQL of their own.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/zapbase/zapbase"
)

// MetaInboundMedia is what a re-download needs about an inbound Meta row.
type MetaInboundMedia struct {
	SessionID string
	MediaID   string
	MimeType  string
	MediaURL  string
	At        time.Time
}

// MetaInboundMedia reads the media fields of the inbound Meta message
// wamid (ok false: no such row).
func (q MessageQuery) MetaInboundMedia(ctx context.Context, tenantID, wamid string) (MetaInboundMedia, bool, error) {
	var r MetaInboundMedia
	err := q.db.QueryRow(ctx, `
SELECT session_id::text, coalesce(content->>'mediaId', ''), coalesce(content->>'mimeType', ''),
       coalesce(content->>'mediaUrl', ''), created_at
  FROM public.messages
 WHERE tenant_id = $1 AND provider = `+sqlMeta+` AND direction = `+sqlInbound+` AND message_id = $2`,
		tenantID, wamid).Scan(&r.SessionID, &r.MediaID, &r.MimeType, &r.MediaURL, &r.At)
	if errors.Is(err, pgx.ErrNoRows) {
		return r, false, nil
	}
	if err != nil {
		return r, false, fmt.Errorf("store: load inbound media of %s: %w", wamid, err)
	}
	return r, true, nil
}

// MetaInboundMediaStored reports whether the inbound Meta row wamid already
// has its media.
func (q MessageQuery) MetaInboundMediaStored(ctx context.Context, tenantID, wamid string) (bool, error) {
	var ok bool
	err := q.db.QueryRow(ctx, `
SELECT EXISTS (SELECT 1 FROM public.messages
 WHERE tenant_id = $1 AND provider = `+sqlMeta+` AND direction = `+sqlInbound+` AND message_id = $2
   AND coalesce(content->>'mediaUrl', '') <> '')`, tenantID, wamid).Scan(&ok)
	if err != nil {
		return false, fmt.Errorf("store: check inbound media of %s: %w", wamid, err)
	}
	return ok, nil
}

// MetaLastInboundParams name a Meta contact: fromVariants are the forms of
// its phone number, from as given (a BSUID matches metadata.fromAlt).
type MetaLastInboundParams struct {
	TenantID, SessionID string
	FromVariants        []string
	From                string
}

// MetaLastInboundMessageID answers the newest inbound Meta message id of a
// contact ("" when none).
func (q MessageQuery) MetaLastInboundMessageID(ctx context.Context, p MetaLastInboundParams) (string, error) {
	var id string
	err := q.db.QueryRow(ctx, `
SELECT message_id FROM public.messages
 WHERE tenant_id = $1 AND session_id = $2 AND direction = `+sqlInbound+` AND provider = `+sqlMeta+`
   AND message_id IS NOT NULL AND (from_number = ANY($3) OR metadata->>'fromAlt' = $4)
 ORDER BY created_at DESC LIMIT 1`, p.TenantID, p.SessionID, p.FromVariants, p.From).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("store: find last inbound message: %w", err)
	}
	return id, nil
}

// MetaPricing is what an outbound Meta row sent (a template's name and
// language), returned when its pricing is recorded.
type MetaPricing struct {
	MessageType      string
	TemplateName     string
	TemplateLanguage string
}

// RecordMetaPricing merges pricing into the outbound Meta row wamid; the
// zero value when there is no such row.
func (q MessageQuery) RecordMetaPricing(ctx context.Context, tenantID, wamid string, pricing []byte) (MetaPricing, error) {
	var r MetaPricing
	err := q.db.QueryRow(ctx, `
UPDATE public.messages SET pricing = coalesce(pricing, '{}'::jsonb) || $3::jsonb
 WHERE tenant_id = $1 AND provider = `+sqlMeta+` AND direction = `+sqlOutbound+` AND message_id = $2
RETURNING message_type, coalesce(content->'template'->>'name', ''), coalesce(content->'template'->>'language', '')`,
		tenantID, wamid, pricing).Scan(&r.MessageType, &r.TemplateName, &r.TemplateLanguage)
	if errors.Is(err, pgx.ErrNoRows) {
		return MetaPricing{}, nil
	}
	if err != nil {
		return MetaPricing{}, fmt.Errorf("store: record pricing of %s: %w", wamid, err)
	}
	return r, nil
}

// SetMetaInboundMediaParams are a downloaded media to store on an inbound
// Meta row; an error code in ClearErrorCodes is cleared with its reason.
type SetMetaInboundMediaParams struct {
	TenantID, ProviderMessageID string
	MediaURL, MediaPath         string
	SizeBytes                   int64
	MimeType                    string
	ClearErrorCodes             [2]string
}

// SetMetaInboundMedia stores a downloaded media on an inbound Meta row.
func (q MessageQuery) SetMetaInboundMedia(ctx context.Context, p SetMetaInboundMediaParams) error {
	patch, _ := json.Marshal(map[string]any{"mediaUrl": p.MediaURL, "mediaPath": p.MediaPath, "sizeBytes": p.SizeBytes, "mimeType": p.MimeType})
	_, err := q.db.Exec(ctx, `
UPDATE public.messages
   SET content = content || $3::jsonb,
       error_code = CASE WHEN error_code IN ($4, $5) THEN NULL ELSE error_code END,
       error_reason = CASE WHEN error_code IN ($4, $5) THEN NULL ELSE error_reason END
 WHERE tenant_id = $1 AND provider = `+sqlMeta+` AND direction = `+sqlInbound+` AND message_id = $2`,
		p.TenantID, p.ProviderMessageID, patch, p.ClearErrorCodes[0], p.ClearErrorCodes[1])
	if err != nil {
		return fmt.Errorf("store: store inbound media of %s: %w", p.ProviderMessageID, err)
	}
	return nil
}

// FillUndecryptableParams are the real content of a WhatsApp Web message
// whose row holds the undecryptable placeholder.
type FillUndecryptableParams struct {
	TenantID, SessionID string
	ProviderMessageID   string
	Type                zapbase.MessageType
	Content             []byte
	From                string
}

// FillUndecryptable replaces the placeholder row of a WhatsApp Web message
// with its content and hands it to the agents again; false when no
// placeholder row matched.
func (q MessageQuery) FillUndecryptable(ctx context.Context, p FillUndecryptableParams) (bool, error) {
	tag, err := q.db.Exec(ctx, `
UPDATE public.messages
   SET message_type = $4, content = $5, ai_processed = false,
       from_number = coalesce(nullif($6, ''), from_number)
 WHERE tenant_id = $1 AND provider = `+sqlBaileys+` AND direction = `+sqlInbound+` AND message_id = $2
   AND session_id = $3 AND message_type = `+sqlTypeUndecryptable,
		p.TenantID, p.ProviderMessageID, p.SessionID, string(p.Type), p.Content, p.From)
	if err != nil {
		return false, fmt.Errorf("store: fill undecryptable message %s: %w", p.ProviderMessageID, err)
	}
	return tag.RowsAffected() > 0, nil
}

// applyEditSQL replaces the text (text rows) or caption (media rows) of a
// message and keeps the previous content in edit_history. A late, older edit
// never overwrites a newer one.
const applyEditSQL = `
UPDATE public.messages
   SET edit_history = edit_history || jsonb_build_array(jsonb_build_object('content', content, 'until', $5::timestamptz)),
       content = CASE WHEN message_type = ` + sqlTypeText + ` THEN content || jsonb_build_object('text', $4::text)
                      ELSE content || jsonb_build_object('caption', $4::text) END,
       edited_at = $5
 WHERE tenant_id = $1 AND provider = $2 AND message_id = $3 AND direction = $6
   AND (edited_at IS NULL OR edited_at <= $5)
RETURNING id`

// ApplyEditParams are an edit of a message (its new text or caption).
type ApplyEditParams struct {
	TenantID          string
	Provider          zapbase.ProviderType
	ProviderMessageID string
	Text              string
	At                time.Time
	Direction         zapbase.Direction
}

// ApplyEdit applies an edit to the row of a message; false when no such row
// (or a newer edit is already applied).
func (q MessageQuery) ApplyEdit(ctx context.Context, p ApplyEditParams) (bool, error) {
	var id string
	err := q.db.QueryRow(ctx, applyEditSQL, p.TenantID, string(p.Provider), p.ProviderMessageID, p.Text, p.At, string(p.Direction)).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("store: apply edit to %s: %w", p.ProviderMessageID, err)
	}
	return true, nil
}

// ApplyBaileysRevoke marks a WhatsApp Web message deleted for everyone;
// false when no row (or already revoked).
func (q MessageQuery) ApplyBaileysRevoke(ctx context.Context, tenantID, providerMessageID string, dir zapbase.Direction, at time.Time) (bool, error) {
	tag, err := q.db.Exec(ctx, `
UPDATE public.messages SET revoked_at = $4
 WHERE tenant_id = $1 AND provider = `+sqlBaileys+` AND message_id = $2 AND direction = $3 AND revoked_at IS NULL`,
		tenantID, providerMessageID, string(dir), at)
	if err != nil {
		return false, fmt.Errorf("store: apply revoke to %s: %w", providerMessageID, err)
	}
	return tag.RowsAffected() > 0, nil
}

// MarkBaileysInboundRead marks a received WhatsApp Web message read (the
// session's auto-read setting).
func (q MessageQuery) MarkBaileysInboundRead(ctx context.Context, tenantID, providerMessageID string) error {
	if _, err := q.db.Exec(ctx, `
UPDATE public.messages SET status = `+sqlRead+`, read_at = now()
 WHERE tenant_id = $1 AND provider = `+sqlBaileys+` AND direction = `+sqlInbound+` AND message_id = $2 AND status = `+sqlReceived,
		tenantID, providerMessageID); err != nil {
		return fmt.Errorf("store: mark inbound %s read: %w", providerMessageID, err)
	}
	return nil
}

// BaileysMessageRef is what a reply or reaction needs of its target.
type BaileysMessageRef struct {
	Direction zapbase.Direction
	From      string
}

// LookupBaileysMessage finds the newest row of a WhatsApp Web message id in
// the tenant (ok false: none).
func (q MessageQuery) LookupBaileysMessage(ctx context.Context, tenantID, providerMessageID string) (BaileysMessageRef, bool, error) {
	var dir string
	var from *string
	err := q.db.QueryRow(ctx, `
SELECT direction, from_number FROM public.messages
 WHERE tenant_id = $1 AND provider = `+sqlBaileys+` AND message_id = $2
 ORDER BY created_at DESC LIMIT 1`, tenantID, providerMessageID).Scan(&dir, &from)
	if errors.Is(err, pgx.ErrNoRows) {
		return BaileysMessageRef{}, false, nil
	}
	if err != nil {
		return BaileysMessageRef{}, false, fmt.Errorf("store: lookup message %s: %w", providerMessageID, err)
	}
	return BaileysMessageRef{Direction: zapbase.Direction(dir), From: orEmpty(from)}, true, nil
}

// BaileysPoll is a poll's row id and its content.poll JSON.
type BaileysPoll struct {
	RowID string
	Poll  []byte
}

// LookupBaileysPoll finds the newest poll row (sent or received) of a
// WhatsApp Web message id in the tenant (ok false: none).
func (q MessageQuery) LookupBaileysPoll(ctx context.Context, tenantID, pollMessageID string) (BaileysPoll, bool, error) {
	var r BaileysPoll
	err := q.db.QueryRow(ctx, `
SELECT id::text, content -> 'poll' FROM public.messages
 WHERE tenant_id = $1 AND provider = `+sqlBaileys+` AND message_id = $2 AND message_type = `+sqlTypePoll+`
 ORDER BY created_at DESC LIMIT 1`, tenantID, pollMessageID).Scan(&r.RowID, &r.Poll)
	if errors.Is(err, pgx.ErrNoRows) {
		return BaileysPoll{}, false, nil
	}
	if err != nil {
		return BaileysPoll{}, false, fmt.Errorf("store: lookup poll %s: %w", pollMessageID, err)
	}
	return r, true, nil
}
