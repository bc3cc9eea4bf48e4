package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// ChangeRow is one row of the change feed. TxID is the xid8, in decimal.
type ChangeRow struct {
	TxID      string
	ID        int64
	TenantID  string
	Topic     string
	SessionID *string
	MessageID *string
	Chat      *string
	Data      json.RawMessage
	CreatedAt time.Time
}

const feedHeadSQL = `SELECT txid::text, id FROM wa.change_log
 WHERE txid < pg_snapshot_xmin(pg_current_snapshot()) ORDER BY txid DESC, id DESC LIMIT 1`

// Head answers the position (txid in decimal, id) of the feed's last final
// row: no transaction still running can add a row before it. pgx.ErrNoRows
// when the feed has none.
func (q ChangeLogQuery) Head(ctx context.Context) (txID string, id int64, err error) {
	if err := q.db.QueryRow(ctx, feedHeadSQL).Scan(&txID, &id); err != nil {
		return "", 0, fmt.Errorf("store: read change feed head: %w", err)
	}
	return txID, id, nil
}

const feedOldestSQL = `SELECT txid::text, id FROM wa.change_log ORDER BY txid, id LIMIT 1`

// Oldest answers the position of the feed's first row. pgx.ErrNoRows when
// the feed is empty.
func (q ChangeLogQuery) Oldest(ctx context.Context) (txID string, id int64, err error) {
	if err := q.db.QueryRow(ctx, feedOldestSQL).Scan(&txID, &id); err != nil {
		return "", 0, fmt.Errorf("store: read change feed start: %w", err)
	}
	return txID, id, nil
}

// ReadFeedParams select final rows of the feed after a position.
type ReadFeedParams struct {
	// AfterTxID, AfterID: rows after this position (txid in decimal).
	AfterTxID string
	AfterID   int64
	// TenantID restricts to one tenant (nil: all).
	TenantID *string
	// UpToTxID, UpToID: rows up to this position inclusive (UpToTxID nil:
	// no bound).
	UpToTxID *string
	UpToID   int64
	Limit    int
}

const readFeedSQL = `SELECT txid::text, id, tenant_id, topic, session_id, message_id, chat, data, created_at FROM wa.change_log
 WHERE (txid, id) > ($1::text::xid8, $2::bigint)
   AND txid < pg_snapshot_xmin(pg_current_snapshot())
   AND ($3::uuid IS NULL OR tenant_id = $3::uuid)
   AND ($4::text IS NULL OR (txid, id) <= ($4::text::xid8, $5::bigint))
 ORDER BY txid, id LIMIT $6`

// Read answers final rows of the feed after a position, in feed order.
func (q ChangeLogQuery) Read(ctx context.Context, p ReadFeedParams) ([]ChangeRow, error) {
	rows, err := q.db.Query(ctx, readFeedSQL, p.AfterTxID, p.AfterID, p.TenantID, p.UpToTxID, p.UpToID, p.Limit)
	if err != nil {
		return nil, fmt.Errorf("store: read change feed: %w", err)
	}
	list, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (ChangeRow, error) {
		var e ChangeRow
		err := row.Scan(&e.TxID, &e.ID, &e.TenantID, &e.Topic, &e.SessionID, &e.MessageID, &e.Chat, &e.Data, &e.CreatedAt)
		return e, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: read change feed: %w", err)
	}
	return list, nil
}
