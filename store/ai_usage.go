package store

import (
	"context"
	"fmt"
)

// AIUsageQuery runs the statements over wa.ai_usage_daily, the tokens and
// turns each tenant spent per UTC day.
type AIUsageQuery struct{ db DB }

// AIUsage returns the queries over wa.ai_usage_daily.
func (s *Store) AIUsage() AIUsageQuery { return AIUsageQuery{s.db} }

// RecordUsageParams are one turn's token usage.
type RecordUsageParams struct {
	TenantID     string
	Day          string // UTC date, 2006-01-02
	InputTokens  int
	OutputTokens int
}

const aiUsageRecordSQL = `
INSERT INTO wa.ai_usage_daily (tenant_id, day, tokens_in, tokens_out, turns) VALUES ($1, $2::date, $3, $4, 1)
ON CONFLICT (tenant_id, day) DO UPDATE SET tokens_in = wa.ai_usage_daily.tokens_in + excluded.tokens_in,
  tokens_out = wa.ai_usage_daily.tokens_out + excluded.tokens_out, turns = wa.ai_usage_daily.turns + 1`

// Record adds one turn and its tokens to the tenant's day.
func (q AIUsageQuery) Record(ctx context.Context, p RecordUsageParams) error {
	if _, err := q.db.Exec(ctx, aiUsageRecordSQL, p.TenantID, p.Day, p.InputTokens, p.OutputTokens); err != nil {
		return fmt.Errorf("store: record token usage: %w", err)
	}
	return nil
}

// TokenBudget is a tenant's token use of a day and its own daily budget.
type TokenBudget struct {
	Used int64
	// Budget is the tenant's own budget (nil: the runtime's default).
	Budget *int64
}

const aiUsageBudgetSQL = `
SELECT coalesce((SELECT tokens_in + tokens_out FROM wa.ai_usage_daily WHERE tenant_id = $1 AND day = $2::date), 0),
       (SELECT daily_token_budget FROM wa.ai_tenant_settings WHERE tenant_id = $1)`

// Budget returns the tokens the tenant used on day (UTC date, 2006-01-02)
// and its own daily budget.
func (q AIUsageQuery) Budget(ctx context.Context, tenantID, day string) (TokenBudget, error) {
	var b TokenBudget
	if err := q.db.QueryRow(ctx, aiUsageBudgetSQL, tenantID, day).Scan(&b.Used, &b.Budget); err != nil {
		return TokenBudget{}, fmt.Errorf("store: check token budget: %w", err)
	}
	return b, nil
}
