package store

import (
	"context"
	"fmt"
)

// AISettingsQuery runs the statements over wa.ai_tenant_settings, a
// tenant's AI settings (its tool endpoint and daily token budget; the
// secrets are sealed in wa.tenant_secrets).
type AISettingsQuery struct{ db DB }

// AISettings returns the queries over wa.ai_tenant_settings.
func (s *Store) AISettings() AISettingsQuery { return AISettingsQuery{s.db} }

const aiSettingsClearToolEndpointSQL = `UPDATE wa.ai_tenant_settings SET tool_endpoint_url = NULL, updated_at = now() WHERE tenant_id = $1`

// ClearToolEndpoint removes the tenant's tool endpoint.
func (q AISettingsQuery) ClearToolEndpoint(ctx context.Context, tenantID string) error {
	if _, err := q.db.Exec(ctx, aiSettingsClearToolEndpointSQL, tenantID); err != nil {
		return fmt.Errorf("store: remove tool endpoint: %w", err)
	}
	return nil
}

const aiSettingsSetToolEndpointSQL = `
INSERT INTO wa.ai_tenant_settings (tenant_id, tool_endpoint_url) VALUES ($1, $2)
ON CONFLICT (tenant_id) DO UPDATE SET tool_endpoint_url = excluded.tool_endpoint_url, updated_at = now()`

// SetToolEndpoint sets the tenant's tool endpoint URL.
func (q AISettingsQuery) SetToolEndpoint(ctx context.Context, tenantID, endpointURL string) error {
	if _, err := q.db.Exec(ctx, aiSettingsSetToolEndpointSQL, tenantID, endpointURL); err != nil {
		return fmt.Errorf("store: set tool endpoint: %w", err)
	}
	return nil
}

const aiSettingsToolEndpointSQL = `SELECT tool_endpoint_url FROM wa.ai_tenant_settings WHERE tenant_id = $1`

// ToolEndpoint returns the tenant's tool endpoint URL (nil when none;
// pgx.ErrNoRows when the tenant has no settings row).
func (q AISettingsQuery) ToolEndpoint(ctx context.Context, tenantID string) (*string, error) {
	var u *string
	if err := q.db.QueryRow(ctx, aiSettingsToolEndpointSQL, tenantID).Scan(&u); err != nil {
		return nil, fmt.Errorf("store: load tool endpoint: %w", err)
	}
	return u, nil
}

const aiSettingsSetDailyTokenBudgetSQL = `
INSERT INTO wa.ai_tenant_settings (tenant_id, daily_token_budget) VALUES ($1, $2)
ON CONFLICT (tenant_id) DO UPDATE SET daily_token_budget = excluded.daily_token_budget, updated_at = now()`

// SetDailyTokenBudget sets the tenant's daily token budget (nil: the
// runtime's default applies).
func (q AISettingsQuery) SetDailyTokenBudget(ctx context.Context, tenantID string, budget *int64) error {
	if _, err := q.db.Exec(ctx, aiSettingsSetDailyTokenBudgetSQL, tenantID, budget); err != nil {
		return fmt.Errorf("store: set token budget: %w", err)
	}
	return nil
}

// AITenantSettings are a tenant's AI settings and today's token usage.
type AITenantSettings struct {
	ToolEndpoint     *string
	DailyTokenBudget *int64
	// TokensUsedToday are the tokens spent today (UTC).
	TokensUsedToday int64
}

const aiSettingsGetSQL = `
SELECT (SELECT tool_endpoint_url FROM wa.ai_tenant_settings WHERE tenant_id = $1),
       (SELECT daily_token_budget FROM wa.ai_tenant_settings WHERE tenant_id = $1),
       coalesce((SELECT tokens_in + tokens_out FROM wa.ai_usage_daily WHERE tenant_id = $1 AND day = (now() AT TIME ZONE 'UTC')::date), 0)`

// Get returns the tenant's AI settings (zero values when it has none).
func (q AISettingsQuery) Get(ctx context.Context, tenantID string) (AITenantSettings, error) {
	var st AITenantSettings
	if err := q.db.QueryRow(ctx, aiSettingsGetSQL, tenantID).Scan(&st.ToolEndpoint, &st.DailyTokenBudget, &st.TokensUsedToday); err != nil {
		return AITenantSettings{}, fmt.Errorf("store: read ai settings: %w", err)
	}
	return st, nil
}
