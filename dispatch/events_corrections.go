package dispatch

import (
	"context"
	"fmt"

	"github.com/zapbase/zapbase/providers"
)

// BindProviderID implements providers.EventSink: the id is stored only on
// an outbound row of the tenant that has none yet.
func (e *Events) BindProviderID(ctx context.Context, p providers.BindProviderIDParams) error {
	_, err := e.pool.Exec(ctx, `
UPDATE public.messages SET message_id = $3
 WHERE id = $2 AND tenant_id = $1 AND direction = 'outbound' AND message_id IS NULL`,
		p.TenantID, p.RowID, p.ProviderMessageID)
	if err != nil {
		return fmt.Errorf("bind provider id to row: %w", err)
	}
	return nil
}

// MarkInboundError implements providers.EventSink.
func (e *Events) MarkInboundError(ctx context.Context, p providers.MarkInboundErrorParams) error {
	_, err := e.pool.Exec(ctx, `
UPDATE public.messages SET error_code = $4, error_reason = $5
 WHERE tenant_id = $1 AND provider = $2 AND direction = 'inbound' AND message_id = $3`,
		p.TenantID, string(p.Provider), p.ProviderMessageID, p.Code, p.Reason)
	if err != nil {
		return fmt.Errorf("record inbound error: %w", err)
	}
	return nil
}
