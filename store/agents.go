package store

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// AgentQuery runs the statements over public.ai_agents.
type AgentQuery struct{ db DB }

// Agents returns the queries over public.ai_agents.
func (s *Store) Agents() AgentQuery { return AgentQuery{s.db} }

// Agent is a row of public.ai_agents. Config is the configuration jsonb as
// stored; the ai package decodes it.
type Agent struct {
	ID        string
	TenantID  string
	Name      string
	Type      string
	Config    json.RawMessage
	IsActive  bool
	IsDefault bool
	CreatedAt time.Time
	UpdatedAt time.Time
	// Slug is "" when the agent has none.
	Slug string
}

const agentColumns = `id, tenant_id, name, type, configuration, is_active, is_default, created_at, updated_at, coalesce(slug, '')`

func agentDest(a *Agent) []any {
	return []any{&a.ID, &a.TenantID, &a.Name, &a.Type, &a.Config, &a.IsActive, &a.IsDefault, &a.CreatedAt, &a.UpdatedAt, &a.Slug}
}

const agentHasNoDefaultSQL = `SELECT NOT EXISTS (SELECT 1 FROM public.ai_agents WHERE tenant_id = $1 AND is_default)`

// HasNoDefault tells whether the tenant has no default agent yet.
func (q AgentQuery) HasNoDefault(ctx context.Context, tenantID string) (bool, error) {
	var none bool
	if err := q.db.QueryRow(ctx, agentHasNoDefaultSQL, tenantID).Scan(&none); err != nil {
		return false, fmt.Errorf("store: check default agent: %w", err)
	}
	return none, nil
}

const agentTenantHasAgentsSQL = `SELECT EXISTS (SELECT 1 FROM public.ai_agents WHERE tenant_id = $1)`

// TenantHasAgents tells whether the tenant has any agent, active or not.
func (q AgentQuery) TenantHasAgents(ctx context.Context, tenantID string) (bool, error) {
	var has bool
	if err := q.db.QueryRow(ctx, agentTenantHasAgentsSQL, tenantID).Scan(&has); err != nil {
		return false, fmt.Errorf("store: check tenant agents: %w", err)
	}
	return has, nil
}

const agentClearDefaultSQL = `UPDATE public.ai_agents SET is_default = false WHERE tenant_id = $1 AND is_default`

// ClearDefault makes none of the tenant's agents the default.
func (q AgentQuery) ClearDefault(ctx context.Context, tenantID string) error {
	if _, err := q.db.Exec(ctx, agentClearDefaultSQL, tenantID); err != nil {
		return fmt.Errorf("store: clear default agent: %w", err)
	}
	return nil
}

const agentClearDefaultExceptSQL = `UPDATE public.ai_agents SET is_default = false WHERE tenant_id = $1 AND is_default AND id <> $2`

// ClearDefaultExcept makes none of the tenant's agents but agentID the
// default.
func (q AgentQuery) ClearDefaultExcept(ctx context.Context, tenantID, agentID string) error {
	if _, err := q.db.Exec(ctx, agentClearDefaultExceptSQL, tenantID, agentID); err != nil {
		return fmt.Errorf("store: clear default agent: %w", err)
	}
	return nil
}

// InsertAgentParams are a new agent's columns.
type InsertAgentParams struct {
	TenantID  string
	Name      string
	Type      string
	Config    []byte // configuration (JSON)
	IsDefault bool
	Slug      string // "" for none
}

const agentInsertSQL = `
INSERT INTO public.ai_agents (tenant_id, name, type, configuration, is_default, slug)
VALUES ($1, $2, $3, $4, $5, NULLIF($6, ''))
RETURNING ` + agentColumns

// Insert creates an agent.
func (q AgentQuery) Insert(ctx context.Context, p InsertAgentParams) (Agent, error) {
	var a Agent
	err := q.db.QueryRow(ctx, agentInsertSQL, p.TenantID, p.Name, p.Type, p.Config, p.IsDefault, p.Slug).Scan(agentDest(&a)...)
	if err != nil {
		return Agent{}, fmt.Errorf("store: insert agent: %w", err)
	}
	return a, nil
}

const (
	agentIDByUUIDSQL = `SELECT id::text FROM public.ai_agents WHERE tenant_id = $1 AND id = $2`
	agentIDBySlugSQL = `SELECT id::text FROM public.ai_agents WHERE tenant_id = $1 AND slug = $2`
)

// IDByUUID returns the id of the tenant's agent id (pgx.ErrNoRows when it
// is not the tenant's).
func (q AgentQuery) IDByUUID(ctx context.Context, tenantID, id string) (string, error) {
	return q.resolveID(ctx, agentIDByUUIDSQL, tenantID, id)
}

// IDBySlug returns the id of the tenant's agent with that slug
// (pgx.ErrNoRows when none).
func (q AgentQuery) IDBySlug(ctx context.Context, tenantID, slug string) (string, error) {
	return q.resolveID(ctx, agentIDBySlugSQL, tenantID, slug)
}

func (q AgentQuery) resolveID(ctx context.Context, sql, tenantID, ref string) (string, error) {
	var id string
	if err := q.db.QueryRow(ctx, sql, tenantID, ref).Scan(&id); err != nil {
		return "", fmt.Errorf("store: resolve agent: %w", err)
	}
	return id, nil
}

const agentListSQL = `SELECT ` + agentColumns + ` FROM public.ai_agents WHERE tenant_id = $1 ORDER BY created_at DESC, id`

// List lists the tenant's agents, newest first.
func (q AgentQuery) List(ctx context.Context, tenantID string) ([]Agent, error) {
	rows, err := q.db.Query(ctx, agentListSQL, tenantID)
	if err != nil {
		return nil, fmt.Errorf("store: list agents: %w", err)
	}
	agents, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (Agent, error) {
		var a Agent
		err := r.Scan(agentDest(&a)...)
		return a, err
	})
	if err != nil {
		return nil, fmt.Errorf("store: list agents: %w", err)
	}
	return agents, nil
}

const (
	agentGetSQL          = `SELECT ` + agentColumns + ` FROM public.ai_agents WHERE tenant_id = $1 AND id = $2`
	agentGetForUpdateSQL = `SELECT ` + agentColumns + ` FROM public.ai_agents WHERE tenant_id = $1 AND id = $2 FOR UPDATE`
)

// Get returns one of the tenant's agents (pgx.ErrNoRows when absent).
func (q AgentQuery) Get(ctx context.Context, tenantID, agentID string) (Agent, error) {
	var a Agent
	if err := q.db.QueryRow(ctx, agentGetSQL, tenantID, agentID).Scan(agentDest(&a)...); err != nil {
		return Agent{}, fmt.Errorf("store: get agent: %w", err)
	}
	return a, nil
}

// GetForUpdate returns one of the tenant's agents and locks its row until
// the transaction ends (pgx.ErrNoRows when absent).
func (q AgentQuery) GetForUpdate(ctx context.Context, tenantID, agentID string) (Agent, error) {
	var a Agent
	if err := q.db.QueryRow(ctx, agentGetForUpdateSQL, tenantID, agentID).Scan(agentDest(&a)...); err != nil {
		return Agent{}, fmt.Errorf("store: lock agent: %w", err)
	}
	return a, nil
}

const agentExistsSQL = `SELECT 1 FROM public.ai_agents WHERE tenant_id = $1 AND id = $2`

// EnsureExists returns pgx.ErrNoRows (wrapped) unless the agent is the
// tenant's.
func (q AgentQuery) EnsureExists(ctx context.Context, tenantID, agentID string) error {
	var one int
	if err := q.db.QueryRow(ctx, agentExistsSQL, tenantID, agentID).Scan(&one); err != nil {
		return fmt.Errorf("store: find agent: %w", err)
	}
	return nil
}

const agentIsActiveSQL = `SELECT is_active FROM public.ai_agents WHERE tenant_id = $1 AND id = $2`

// IsActive tells whether the tenant's agent is active (pgx.ErrNoRows when
// absent).
func (q AgentQuery) IsActive(ctx context.Context, tenantID, agentID string) (bool, error) {
	var active bool
	if err := q.db.QueryRow(ctx, agentIsActiveSQL, tenantID, agentID).Scan(&active); err != nil {
		return false, fmt.Errorf("store: find agent: %w", err)
	}
	return active, nil
}

// UpdateAgentParams change an agent; nil fields keep their value.
type UpdateAgentParams struct {
	TenantID  string
	AgentID   string
	Config    []byte // configuration (JSON); nil: unchanged
	Name      *string
	Type      *string
	IsActive  *bool
	IsDefault *bool
	// Slug: nil unchanged, "" removed.
	Slug *string
}

const agentUpdateSQL = `
UPDATE public.ai_agents
   SET configuration = coalesce($3, configuration),
       name = coalesce($4, name),
       type = coalesce($5, type),
       is_active = coalesce($6, is_active),
       is_default = coalesce($7, is_default),
       slug = CASE WHEN $8::text IS NULL THEN slug ELSE NULLIF($8, '') END
 WHERE tenant_id = $1 AND id = $2
RETURNING ` + agentColumns

// Update changes an agent and returns it (pgx.ErrNoRows when absent).
func (q AgentQuery) Update(ctx context.Context, p UpdateAgentParams) (Agent, error) {
	var a Agent
	err := q.db.QueryRow(ctx, agentUpdateSQL, p.TenantID, p.AgentID, p.Config, p.Name, p.Type, p.IsActive, p.IsDefault, p.Slug).Scan(agentDest(&a)...)
	if err != nil {
		return Agent{}, fmt.Errorf("store: update agent: %w", err)
	}
	return a, nil
}

// ActiveAgent is the agent that answers a conversation.
type ActiveAgent struct {
	ID     string
	Config json.RawMessage
}

const agentResolveActiveSQL = `
SELECT id, configuration FROM public.ai_agents
 WHERE tenant_id = $1 AND is_active AND (id = $2 OR is_default)
 ORDER BY (id = $2) DESC NULLS LAST LIMIT 1`

// ResolveActive returns agentID when it is active, else the tenant's
// active default agent (pgx.ErrNoRows when neither).
func (q AgentQuery) ResolveActive(ctx context.Context, tenantID string, agentID *string) (ActiveAgent, error) {
	var a ActiveAgent
	if err := q.db.QueryRow(ctx, agentResolveActiveSQL, tenantID, agentID).Scan(&a.ID, &a.Config); err != nil {
		return ActiveAgent{}, fmt.Errorf("store: resolve active agent: %w", err)
	}
	return a, nil
}

const agentDefaultActiveConfigSQL = `SELECT configuration FROM public.ai_agents WHERE tenant_id = $1 AND is_default AND is_active`

// DefaultActiveConfig returns the configuration of the tenant's active
// default agent (pgx.ErrNoRows when none).
func (q AgentQuery) DefaultActiveConfig(ctx context.Context, tenantID string) (json.RawMessage, error) {
	var cfg json.RawMessage
	if err := q.db.QueryRow(ctx, agentDefaultActiveConfigSQL, tenantID).Scan(&cfg); err != nil {
		return nil, fmt.Errorf("store: load default agent: %w", err)
	}
	return cfg, nil
}
