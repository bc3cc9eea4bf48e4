package migrations

import (
	"fmt"
	"slices"
	"strings"
)

// The policy matrix: for every public table and every actor, which
// operations on which columns supabase-js clients may perform. It is the one
// source of truth for three things that must not drift apart:
//
//   - the migrations implement it (TestPolicyMatrix runs every table ×
//     operation × actor × column as PostgREST does and fails on any cell
//     that differs, and on any public table the matrix does not list);
//   - README.md, section "Segurança e RLS", is generated from it
//     (PolicyMatrixMarkdown; the test fails when the README differs);
//   - zapbase doctor compares a live database's grants, policies and
//     security-definer functions with it (ExpectedPrivileges, Policies,
//     SecurityDefinerFunctions).
//
// A new public table must be declared here, with RLS enabled and explicit
// grants, or the test fails. A migration that creates, alters or drops a
// public policy ends with SELECT wa.record_policy_baseline(); (doctor
// compares policy texts with that baseline; the test checks it is current).

// Actor is who acts on a table: an API role, or a signed-in user with their
// role in the tenant (tenant_members.role).
type Actor string

// Actors of the matrix.
const (
	ActorAnon        Actor = "anon"
	ActorOwner       Actor = "owner"
	ActorAdmin       Actor = "admin"
	ActorMember      Actor = "member"
	ActorServiceRole Actor = "service_role"
)

// Actors lists every actor, in README order.
var Actors = []Actor{ActorAnon, ActorOwner, ActorAdmin, ActorMember, ActorServiceRole}

// DBRole is the Postgres role the actor's requests run as.
func (a Actor) DBRole() string {
	switch a {
	case ActorOwner, ActorAdmin, ActorMember:
		return "authenticated"
	default:
		return string(a)
	}
}

// Columns names columns; nil is none and AllColumns is every column,
// including columns added later.
type Columns []string

// AllColumns means every column of the table.
var AllColumns = Columns{"*"}

// All reports whether c means every column.
func (c Columns) All() bool { return len(c) == 1 && c[0] == "*" }

// Has reports whether c includes column.
func (c Columns) Has(column string) bool { return c.All() || slices.Contains(c, column) }

// Access is what one actor may do on one table, on the rows the table's
// Rows rule lets them see (always nothing of another tenant).
type Access struct {
	Select, Insert, Update Columns
	Delete                 bool
	// Note (pt-BR) qualifies the cell: value rules enforced by policies or
	// guard triggers on top of the columns.
	Note string
}

// Table is one public table of the matrix.
type Table struct {
	Name string
	// Rows (pt-BR) says which rows a signed-in user reaches.
	Rows   string
	Access map[Actor]Access
	// Policies are the RLS policies the migrations create on the table.
	Policies []string
}

var (
	full    = Access{Select: AllColumns, Insert: AllColumns, Update: AllColumns, Delete: true}
	readAll = Access{Select: AllColumns}
)

// PolicyMatrix is the matrix itself (migration 000070 implements it).
var PolicyMatrix = []Table{
	{
		Name: "tenants",
		Rows: "os tenants de que o usuário é membro",
		Access: map[Actor]Access{
			ActorOwner:       {Select: AllColumns, Update: Columns{"name", "settings"}},
			ActorAdmin:       {Select: AllColumns, Update: Columns{"name", "settings"}},
			ActorMember:      readAll,
			ActorServiceRole: full,
		},
		Policies: []string{"tenants_select", "tenants_update"},
	},
	{
		Name: "tenant_members",
		Rows: "só as linhas do próprio usuário (membros são geridos pela API de administração)",
		Access: map[Actor]Access{
			ActorOwner:       readAll,
			ActorAdmin:       readAll,
			ActorMember:      readAll,
			ActorServiceRole: full,
		},
		Policies: []string{"tenant_members_select"},
	},
	{
		Name: "whatsapp_sessions",
		Rows: "as sessões dos tenants do usuário; criar, conectar e desconectar é pela API (que fala com o provedor)",
		Access: map[Actor]Access{
			ActorOwner:       readAll,
			ActorAdmin:       readAll,
			ActorMember:      readAll,
			ActorServiceRole: {Select: AllColumns, Insert: AllColumns, Update: AllColumns, Delete: true, Note: "`max_sessions` vale para todos (trigger)"},
		},
		Policies: []string{"whatsapp_sessions_select"},
	},
	{
		Name: "messages",
		Rows: "as mensagens dos tenants do usuário; o histórico não é alterado nem apagado por clientes",
		Access: map[Actor]Access{
			ActorOwner:       messageWriter,
			ActorAdmin:       messageWriter,
			ActorMember:      messageWriter,
			ActorServiceRole: full,
		},
		Policies: []string{"messages_select", "messages_insert"},
	},
	{
		Name: "ai_agents",
		Rows: "os agentes dos tenants do usuário",
		Access: map[Actor]Access{
			ActorOwner:       agentManager,
			ActorAdmin:       agentManager,
			ActorMember:      readAll,
			ActorServiceRole: full,
		},
		Policies: []string{"ai_agents_select", "ai_agents_insert", "ai_agents_update", "ai_agents_delete"},
	},
	{
		Name: "ai_conversations",
		Rows: "as conversas dos tenants do usuário; quem cria e atualiza o contexto é o zapbase",
		Access: map[Actor]Access{
			ActorOwner: {Select: AllColumns, Update: Columns{"state", "paused_until", "agent_id"},
				Note: "pode retomar a IA e trocar o agente"},
			ActorAdmin: {Select: AllColumns, Update: Columns{"state", "paused_until", "agent_id"},
				Note: "pode retomar a IA e trocar o agente"},
			ActorMember: {Select: AllColumns, Update: Columns{"state", "paused_until"},
				Note: "só para assumir a conversa (`paused`/`handoff` com `paused_until`); nunca retoma a IA nem encurta a pausa"},
			ActorServiceRole: full,
		},
		Policies: []string{"ai_conversations_select", "ai_conversations_update"},
	},
	{
		Name: "ai_knowledge_documents",
		Rows: "os documentos dos agentes dos tenants do usuário",
		Access: map[Actor]Access{
			ActorOwner:       knowledgeManager,
			ActorAdmin:       knowledgeManager,
			ActorMember:      readAll,
			ActorServiceRole: full,
		},
		Policies: []string{"ai_knowledge_documents_select", "ai_knowledge_documents_insert",
			"ai_knowledge_documents_update", "ai_knowledge_documents_delete"},
	},
	{
		Name: "ai_knowledge_chunks",
		Rows: "os trechos indexados (derivados pelo zapbase) dos tenants do usuário",
		Access: map[Actor]Access{
			ActorOwner:       readAll,
			ActorAdmin:       readAll,
			ActorMember:      readAll,
			ActorServiceRole: full,
		},
		Policies: []string{"ai_knowledge_chunks_select"},
	},
}

var (
	// MessageClientColumns are the columns a client names when it queues
	// an outbound message; the database fills every other one (direction
	// outbound, status pending, and what the sidecar owns).
	MessageClientColumns = Columns{"id", "tenant_id", "session_id", "to_number", "message_type", "content",
		"provider", "enable_ai", "metadata", "traceparent"}

	messageWriter = Access{Select: AllColumns, Insert: MessageClientColumns,
		Note: "só saída (`outbound`, `pending`); destinatário possível (`invalid_recipient`); tipos `system`/`unsupported` recusados"}
	agentManager = Access{Select: AllColumns,
		Insert: Columns{"id", "tenant_id", "name", "type", "configuration", "is_active", "is_default", "slug"},
		Update: Columns{"name", "type", "configuration", "is_active", "is_default", "slug"}, Delete: true}
	knowledgeManager = Access{Select: AllColumns,
		Insert: Columns{"id", "tenant_id", "agent_id", "title", "category", "content", "metadata"},
		Update: Columns{"title", "category", "content", "metadata"}, Delete: true}
)

// SecurityDefinerFunction is a SECURITY DEFINER function the migrations
// create in public, wa or wa_rls, with the roles that may execute it.
type SecurityDefinerFunction struct {
	Signature string // schema.name(argtypes), as regprocedure prints it
	// Executors are the API roles granted EXECUTE (PUBLIC, anon and
	// authenticated never are, unless listed).
	Executors []string
}

// SecurityDefinerFunctions lists every SECURITY DEFINER function of the
// migrations. Trigger functions are executed by their trigger, not by a
// grant, so they list no executor. A listed function may be absent:
// broadcast_tenant_change exists only where the realtime schema does, and a
// later migration may make a function SECURITY INVOKER (000140 does so for
// messages_status_guard).
var SecurityDefinerFunctions = []SecurityDefinerFunction{
	{Signature: "wa_rls.writable_tenant_ids()", Executors: []string{"authenticated", "service_role"}},
	{Signature: "wa_rls.managed_tenant_ids()", Executors: []string{"authenticated", "service_role"}},
	{Signature: "wa.messages_status_guard()"},
	{Signature: "wa.broadcast_tenant_change()"},
	{Signature: "wa.log_message_inserts()"},
	{Signature: "wa.log_message_updates()"},
	{Signature: "wa.log_session_changes()"},
	{Signature: "wa.log_message_change()"}, // main's 000110 (one function for both triggers)
	{Signature: "wa.whatsapp_sessions_quota()"},
	{Signature: "wa.ai_conversations_takeover_guard()"},
	{Signature: "wa.ai_conversations_assign_guard()"},
	// 000081 (default agent kept in sync between settings and is_default).
	{Signature: "wa.default_agent_from_settings()"},
	{Signature: "wa.settings_from_default_agent()"},
}

// Privileges checked per column (SELECT, INSERT, UPDATE) and per table.
var (
	ColumnPrivileges = []string{"SELECT", "INSERT", "UPDATE"}
	// TablePrivileges beyond DELETE: never granted to anon/authenticated.
	ExtraTablePrivileges = []string{"TRUNCATE", "REFERENCES", "TRIGGER"}
)

// TableByName returns the matrix entry of a table.
func TableByName(name string) (Table, bool) {
	for _, t := range PolicyMatrix {
		if t.Name == name {
			return t, true
		}
	}
	return Table{}, false
}

// cols returns the Columns of an access for a privilege.
func (a Access) cols(privilege string) Columns {
	switch privilege {
	case "SELECT":
		return a.Select
	case "INSERT":
		return a.Insert
	case "UPDATE":
		return a.Update
	}
	return nil
}

// Allows reports whether the access includes privilege on column ("" for a
// table-level privilege: DELETE, or any column of SELECT/INSERT/UPDATE).
func (a Access) Allows(privilege, column string) bool {
	if privilege == "DELETE" {
		return a.Delete
	}
	c := a.cols(privilege)
	if column == "" {
		return len(c) > 0
	}
	return c.Has(column)
}

// ExpectedPrivilege is what a database role should hold on a column (the
// union over the actors that run as that role: owner, admin and member all
// run as authenticated; policies and triggers tell them apart).
func ExpectedPrivilege(t Table, dbRole, privilege, column string) bool {
	if dbRole == "service_role" {
		return true
	}
	for _, a := range Actors {
		if a.DBRole() == dbRole && t.Access[a].Allows(privilege, column) {
			return true
		}
	}
	return false
}

func cell(c Columns) string {
	switch {
	case c.All():
		return "todas"
	case len(c) == 0:
		return "—"
	}
	parts := make([]string, len(c))
	for i, n := range c {
		parts[i] = "`" + n + "`"
	}
	return strings.Join(parts, ", ")
}

var actorTitles = map[Actor]string{
	ActorAnon:        "`anon` (sem login)",
	ActorOwner:       "`authenticated` dono (`owner`)",
	ActorAdmin:       "`authenticated` `admin`",
	ActorMember:      "`authenticated` `member`",
	ActorServiceRole: "`service_role` (chave secreta)",
}

// PolicyMatrixMarkdown renders the matrix for README.md (pt-BR).
func PolicyMatrixMarkdown() string {
	var b strings.Builder
	for i, t := range PolicyMatrix {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "**`%s`** — linhas: %s.\n\n", t.Name, t.Rows)
		b.WriteString("| quem | SELECT | INSERT | UPDATE | DELETE | regras |\n|---|---|---|---|---|---|\n")
		for _, a := range Actors {
			acc := t.Access[a]
			del := "—"
			if acc.Delete {
				del = "sim"
			}
			note := acc.Note
			if note == "" {
				note = "—"
			}
			fmt.Fprintf(&b, "| %s | %s | %s | %s | %s | %s |\n", actorTitles[a], cell(acc.Select), cell(acc.Insert),
				cell(acc.Update), del, note)
		}
	}
	return b.String()
}
