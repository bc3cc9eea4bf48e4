package doctor

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Status is the outcome of one check.
type Status int

// Check outcomes. Only Fail blocks going live.
const (
	OK Status = iota
	Warn
	Fail
	Skipped
)

func (s Status) String() string {
	switch s {
	case OK:
		return "ok"
	case Warn:
		return "warn"
	case Fail:
		return "fail"
	default:
		return "skipped"
	}
}

// MarshalText makes Status readable in JSON reports.
func (s Status) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

func (s Status) symbol() string {
	switch s {
	case OK:
		return "✓"
	case Warn:
		return "⚠"
	case Fail:
		return "✗"
	default:
		return "–"
	}
}

// Check ids (stable, snake_case English, usable by scripts via --json).
const (
	CheckDatabase            = "database"
	CheckWALLevel            = "wal_level"
	CheckReplicationRole     = "replication_role"
	CheckReplicationSlots    = "replication_slots"
	CheckWALSenders          = "wal_senders"
	CheckSlotWALKeepSize     = "max_slot_wal_keep_size"
	CheckSlot                = "slot"
	CheckPublication         = "publication"
	CheckRealtimePublication = "realtime_publication"
	CheckMigrations          = "migrations"
	CheckRLS                 = "rls"
	CheckPrivateSchemas      = "private_schemas"
	CheckPublicGrants        = "public_grants"
	CheckSecurityDrift       = "security_drift"
	CheckDirectConnection    = "direct_connection"
	CheckJWKS                = "jwks"
)

// titles are the pt-BR names printed in the report.
var titles = map[string]string{
	CheckDatabase:            "Conexão com o banco",
	CheckWALLevel:            "wal_level",
	CheckReplicationRole:     "Privilégio de replicação",
	CheckReplicationSlots:    "Slots de replicação",
	CheckWALSenders:          "WAL senders",
	CheckSlotWALKeepSize:     "max_slot_wal_keep_size",
	CheckSlot:                "Slot do zapbase",
	CheckPublication:         "Publicação do zapbase",
	CheckRealtimePublication: "Publicação supabase_realtime",
	CheckMigrations:          "Migrações",
	CheckRLS:                 "RLS nas tabelas públicas",
	CheckPrivateSchemas:      "Esquemas privados (wa, whatsmeow)",
	CheckPublicGrants:        "Permissões das tabelas públicas",
	CheckSecurityDrift:       "Deriva de GRANTs, políticas e funções",
	CheckDirectConnection:    "Conexão direta de replicação",
	CheckJWKS:                "Chaves JWT (JWKS)",
}

// Finding is the result of one check: a pt-BR summary and, for problems, the
// fix.
type Finding struct {
	Check   string `json:"check"`
	Status  Status `json:"status"`
	Summary string `json:"summary"`
	Fix     string `json:"fix,omitempty"`
}

// Report is the list of findings, in check order.
type Report struct {
	Findings []Finding `json:"findings"`
}

func (r *Report) add(check string, s Status, summary, fix string) {
	r.Findings = append(r.Findings, Finding{Check: check, Status: s, Summary: summary, Fix: fix})
}

// Blocking reports whether any check failed.
func (r Report) Blocking() bool {
	for _, f := range r.Findings {
		if f.Status == Fail {
			return true
		}
	}
	return false
}

// Find returns the first finding of a check.
func (r Report) Find(check string) (Finding, bool) {
	for _, f := range r.Findings {
		if f.Check == check {
			return f, true
		}
	}
	return Finding{}, false
}

// All returns every finding of a check (some checks report per object).
func (r Report) All(check string) []Finding {
	var out []Finding
	for _, f := range r.Findings {
		if f.Check == check {
			out = append(out, f)
		}
	}
	return out
}

// WriteText prints the pt-BR report: one ✓/⚠/✗ line per finding, the fix
// indented below each problem, and a verdict.
func (r Report) WriteText(w io.Writer) error {
	var b strings.Builder
	b.WriteString("zapbase doctor — verificação antes de ir para produção\n\n")
	var fails, warns int
	for _, f := range r.Findings {
		fmt.Fprintf(&b, "%s %s: %s\n", f.Status.symbol(), titles[f.Check], f.Summary)
		if f.Fix != "" && (f.Status == Fail || f.Status == Warn) {
			for i, line := range strings.Split(f.Fix, "\n") {
				prefix := "    "
				if i == 0 {
					prefix = "    Como corrigir: "
				}
				b.WriteString(prefix + line + "\n")
			}
		}
		switch f.Status {
		case Fail:
			fails++
		case Warn:
			warns++
		}
	}
	b.WriteString("\n")
	switch {
	case fails > 0:
		fmt.Fprintf(&b, "Resultado: %s, %s. Corrija os itens marcados com ✗ antes de ir para produção.\n",
			plural(fails, "problema bloqueante", "problemas bloqueantes"), plural(warns, "aviso", "avisos"))
	case warns > 0:
		fmt.Fprintf(&b, "Resultado: nenhum problema bloqueante, %s. Revise os itens marcados com ⚠.\n",
			plural(warns, "aviso", "avisos"))
	default:
		b.WriteString("Resultado: tudo certo, nenhum problema encontrado.\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON prints the report as JSON (for scripts).
func (r Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Report
		Blocking bool `json:"blocking"`
	}{r, r.Blocking()})
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}
