package migrations_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/stretchr/testify/require"

	"github.com/zapbase/zapbase/migrations"
)

// requireRefused: the statement failed with a permission error (grant, RLS
// or guard) or reached no row.
func requireRefused(t *testing.T, n int64, err error, what string) {
	t.Helper()
	if err == nil {
		require.Zero(t, n, "%s: the database allowed it", what)
		return
	}
	var pe *pgconn.PgError
	require.True(t, errors.As(err, &pe), "%s: %v", what, err)
	require.Contains(t, []string{"42501", "23514"}, pe.Code, "%s: %v", what, err)
}

func (f *matrixFixture) value(t *testing.T, q string, args ...any) string {
	t.Helper()
	var s string
	require.NoError(t, f.conn.QueryRow(context.Background(), q, args...).Scan(&s))
	return s
}

// TestRLSAbuses: each abuse of issue 15, as the tenant's own users would try
// it through supabase-js (PostgREST: role authenticated + JWT claims).
func TestRLSAbuses(t *testing.T) {
	t.Parallel()
	f := newMatrixFixture(t)
	ctx := context.Background()
	msg, conv, agent, sess := f.rows["A"]["messages"], f.rows["A"]["ai_conversations"], f.rows["A"]["ai_agents"], f.rows["A"]["whatsapp_sessions"]
	clients := []migrations.Actor{migrations.ActorOwner, migrations.ActorAdmin, migrations.ActorMember}
	managers := []migrations.Actor{migrations.ActorOwner, migrations.ActorAdmin}

	t.Run("inbound spoofing by UPDATE direction/ai_processed", func(t *testing.T) {
		for _, a := range clients {
			f.as(t, a, func(tx pgx.Tx) {
				n, err := probe(t, tx, `UPDATE messages SET direction = 'inbound', from_number = '5511977776666', ai_processed = false WHERE id = $1`, msg)
				requireRefused(t, n, err, string(a)+": outbound row turned into an inbound one")
				for _, set := range []string{"direction = 'inbound'", "ai_processed = false", "from_number = '5511977776666'"} {
					n, err = probe(t, tx, `UPDATE messages SET `+set+` WHERE id = $1`, msg)
					requireRefused(t, n, err, string(a)+": "+set)
				}
			})
		}
		require.Equal(t, "outbound", f.value(t, `SELECT direction FROM messages WHERE id = $1`, msg))
	})

	t.Run("inbound or already-sent rows by INSERT", func(t *testing.T) {
		for _, a := range clients {
			f.as(t, a, func(tx pgx.Tx) {
				n, err := probe(t, tx, `INSERT INTO messages (tenant_id, direction, from_number, to_number, ai_processed) VALUES ($1, 'inbound', '5511977776666', '5511900000001', false)`, f.tenant["A"])
				requireRefused(t, n, err, string(a)+": inbound insert")
				n, err = probe(t, tx, `INSERT INTO messages (tenant_id, to_number, status) VALUES ($1, '5511977776666', 'delivered')`, f.tenant["A"])
				requireRefused(t, n, err, string(a)+": insert as delivered")
				n, err = probe(t, tx, `INSERT INTO messages (tenant_id, to_number, message_type) VALUES ($1, '5511977776666', 'system')`, f.tenant["A"])
				requireRefused(t, n, err, string(a)+": system message")
			})
		}
	})

	t.Run("forged status and receipts", func(t *testing.T) {
		_, err := f.conn.Exec(ctx, `UPDATE messages SET status = 'sending' WHERE id = $1`, msg)
		require.NoError(t, err)
		_, err = f.conn.Exec(ctx, `UPDATE messages SET status = 'sent', message_id = 'wamid.1' WHERE id = $1`, msg)
		require.NoError(t, err)
		for _, a := range clients {
			f.as(t, a, func(tx pgx.Tx) {
				for _, set := range []string{"status = 'read'", "status = 'delivered'", "read_at = now()", "delivered_at = now()", "status = 'failed'", "error_code = 'x'"} {
					n, err := probe(t, tx, `UPDATE messages SET `+set+` WHERE id = $1`, msg)
					requireRefused(t, n, err, string(a)+": "+set)
				}
			})
		}
		require.Equal(t, "sent", f.value(t, `SELECT status FROM messages WHERE id = $1`, msg))
	})

	t.Run("rewritten content and identity of a sent message", func(t *testing.T) {
		for _, a := range clients {
			f.as(t, a, func(tx pgx.Tx) {
				for _, set := range []string{`content = '{"text":"outro"}'`, "message_id = 'wamid.forged'", "to_number = '5511977776666'", "metadata = '{}'", "session_id = NULL"} {
					n, err := probe(t, tx, `UPDATE messages SET `+set+` WHERE id = $1`, msg)
					requireRefused(t, n, err, string(a)+": "+set)
				}
			})
		}
		require.Equal(t, `{"text": "oi"}`, f.value(t, `SELECT content::text FROM messages WHERE id = $1`, msg))
	})

	t.Run("dispatcher claim columns", func(t *testing.T) {
		for _, a := range clients {
			f.as(t, a, func(tx pgx.Tx) {
				for _, set := range []string{"claimed_by = 'me'", "claim_expires_at = now() + interval '1 day'", "attempts = 0", "next_attempt_at = now() - interval '1 year'"} {
					n, err := probe(t, tx, `UPDATE messages SET `+set+` WHERE id = $1`, msg)
					requireRefused(t, n, err, string(a)+": "+set)
				}
				for _, col := range []string{"claimed_by", "claim_expires_at", "attempts", "next_attempt_at", "message_id", "error_code"} {
					n, err := probe(t, tx, `INSERT INTO messages (tenant_id, to_number, `+col+`) VALUES ($1, '5511977776666', DEFAULT)`, f.tenant["A"])
					requireRefused(t, n, err, string(a)+": insert naming "+col)
				}
			})
		}
	})

	t.Run("forged agent_id on insert", func(t *testing.T) {
		for _, a := range clients {
			f.as(t, a, func(tx pgx.Tx) {
				n, err := probe(t, tx, `INSERT INTO messages (tenant_id, to_number, agent_id) VALUES ($1, '5511988887777', $2)`, f.tenant["A"], agent)
				requireRefused(t, n, err, string(a)+": message pretending to be an AI reply")
				n, err = probe(t, tx, `INSERT INTO messages (tenant_id, to_number, conversation_id) VALUES ($1, '5511988887777', $2)`, f.tenant["A"], conv)
				requireRefused(t, n, err, string(a)+": message linked to a conversation")
				n, err = probe(t, tx, `UPDATE messages SET agent_id = $2 WHERE id = $1`, msg, agent)
				requireRefused(t, n, err, string(a)+": agent_id set later")
				// The legitimate insert works.
				n, err = probe(t, tx, `INSERT INTO messages (tenant_id, to_number, content) VALUES ($1, '5511988887777', '{"text":"olá"}')`, f.tenant["A"])
				require.NoError(t, err)
				require.EqualValues(t, 1, n)
			})
		}
	})

	t.Run("impossible recipient", func(t *testing.T) {
		for _, a := range clients {
			f.as(t, a, func(tx pgx.Tx) {
				for _, to := range []string{"00000000000", "5500988887777", "5511888887777", "99912345678", "+5511988887777", "1234", "x@example.com"} {
					n, err := probe(t, tx, `INSERT INTO messages (tenant_id, to_number) VALUES ($1, $2)`, f.tenant["A"], to)
					requireRefused(t, n, err, string(a)+": recipient "+to)
				}
			})
		}
	})

	t.Run("member edits agents", func(t *testing.T) {
		f.as(t, migrations.ActorMember, func(tx pgx.Tx) {
			for _, stmt := range []string{
				`UPDATE ai_agents SET configuration = '{"systemPrompt":"ignore tudo"}' WHERE id = $1`,
				`UPDATE ai_agents SET is_active = false WHERE id = $1`,
				`DELETE FROM ai_agents WHERE id = $1`,
			} {
				n, err := probe(t, tx, stmt, agent)
				requireRefused(t, n, err, "member: "+stmt)
			}
			n, err := probe(t, tx, `INSERT INTO ai_agents (tenant_id, name) VALUES ($1, 'Intruso')`, f.tenant["A"])
			requireRefused(t, n, err, "member created an agent")
			n, err = probe(t, tx, `INSERT INTO ai_knowledge_documents (tenant_id, agent_id, title, content) VALUES ($1, $2, 'x', 'y')`, f.tenant["A"], agent)
			requireRefused(t, n, err, "member added knowledge")
		})
		for _, a := range managers {
			f.as(t, a, func(tx pgx.Tx) {
				n, err := probe(t, tx, `UPDATE ai_agents SET configuration = '{"systemPrompt":"novo"}' WHERE id = $1`, agent)
				require.NoError(t, err)
				require.EqualValues(t, 1, n, a)
			})
		}
	})

	t.Run("member edits sessions", func(t *testing.T) {
		for _, a := range clients {
			f.as(t, a, func(tx pgx.Tx) {
				for _, stmt := range []string{
					`UPDATE whatsapp_sessions SET state = 'connected', provider_type = 'meta_api' WHERE id = $1`,
					`UPDATE whatsapp_sessions SET is_active = false WHERE id = $1`,
					`UPDATE whatsapp_sessions SET qr_code = 'x' WHERE id = $1`,
				} {
					n, err := probe(t, tx, stmt, sess)
					requireRefused(t, n, err, string(a)+": "+stmt)
				}
				n, err := probe(t, tx, `INSERT INTO whatsapp_sessions (tenant_id, phone_number, provider_type) VALUES ($1, '5511900000099', 'sandbox')`, f.tenant["A"])
				requireRefused(t, n, err, string(a)+": session inserted by SQL")
			})
		}
	})

	t.Run("member edits conversations", func(t *testing.T) {
		f.as(t, migrations.ActorMember, func(tx pgx.Tx) {
			for _, set := range []string{"agent_id = NULL", "agent_id = agent_id", "context = '{}'", "consecutive_replies = 0", "contact = '5511977776666'"} {
				n, err := probe(t, tx, `UPDATE ai_conversations SET `+set+` WHERE id = $1`, conv)
				requireRefused(t, n, err, "member: "+set)
			}
		})
	})

	t.Run("max_sessions in the database", func(t *testing.T) {
		_, err := f.conn.Exec(ctx, `UPDATE tenants SET max_sessions = 2 WHERE id = $1`, f.tenant["A"])
		require.NoError(t, err)
		// The sidecar (table owner) and service_role are held to it too.
		_, err = f.conn.Exec(ctx, `INSERT INTO whatsapp_sessions (tenant_id, phone_number, provider_type) VALUES ($1, '5511900000002', 'sandbox')`, f.tenant["A"])
		require.NoError(t, err)
		_, err = f.conn.Exec(ctx, `INSERT INTO whatsapp_sessions (tenant_id, phone_number, provider_type) VALUES ($1, '5511900000003', 'sandbox')`, f.tenant["A"])
		var pe *pgconn.PgError
		require.ErrorAs(t, err, &pe)
		require.Equal(t, "23514", pe.Code)
		require.Equal(t, "zapbase_session_limit", pe.Hint)
		f.as(t, migrations.ActorServiceRole, func(tx pgx.Tx) {
			_, err := probe(t, tx, `INSERT INTO whatsapp_sessions (tenant_id, phone_number, provider_type)
SELECT $1, '55119000001' || g, 'sandbox' FROM generate_series(0, 9) g`, f.tenant["A"])
			require.ErrorAs(t, err, &pe)
			require.Equal(t, "zapbase_session_limit", pe.Hint)
		})
		require.Equal(t, "2", f.value(t, `SELECT count(*)::text FROM whatsapp_sessions WHERE tenant_id = $1`, f.tenant["A"]))
		// Another tenant's quota is its own.
		_, err = f.conn.Exec(ctx, `INSERT INTO whatsapp_sessions (tenant_id, phone_number, provider_type) VALUES ($1, '5511900000003', 'sandbox')`, f.tenant["B"])
		require.NoError(t, err)
	})

	t.Run("deleting sessions and history", func(t *testing.T) {
		for _, a := range clients {
			f.as(t, a, func(tx pgx.Tx) {
				for table, id := range map[string]string{"messages": msg, "whatsapp_sessions": sess, "ai_conversations": conv} {
					n, err := probe(t, tx, `DELETE FROM `+table+` WHERE id = $1`, id)
					requireRefused(t, n, err, string(a)+": delete "+table)
					n, err = probe(t, tx, `DELETE FROM `+table)
					requireRefused(t, n, err, string(a)+": delete every row of "+table)
				}
			})
		}
	})

	t.Run("un-pausing a human takeover", func(t *testing.T) {
		_, err := f.conn.Exec(ctx, `UPDATE ai_conversations SET state = 'paused', paused_until = now() + interval '1 hour' WHERE id = $1`, conv)
		require.NoError(t, err)
		f.as(t, migrations.ActorMember, func(tx pgx.Tx) {
			for _, set := range []string{"state = 'active'", "state = 'active', paused_until = NULL", "paused_until = NULL",
				"paused_until = now()", "paused_until = now() + interval '1 minute'", "state = 'handoff', paused_until = now()"} {
				n, err := probe(t, tx, `UPDATE ai_conversations SET `+set+` WHERE id = $1`, conv)
				requireRefused(t, n, err, "member: "+set)
			}
			// Extending the pause, or handing it off for longer, is taking over.
			n, err := probe(t, tx, `UPDATE ai_conversations SET state = 'handoff', paused_until = now() + interval '2 hours' WHERE id = $1`, conv)
			require.NoError(t, err)
			require.EqualValues(t, 1, n)
		})
		for _, a := range managers {
			f.as(t, a, func(tx pgx.Tx) {
				n, err := probe(t, tx, `UPDATE ai_conversations SET state = 'active', paused_until = NULL WHERE id = $1`, conv)
				require.NoError(t, err)
				require.EqualValues(t, 1, n, "%s resumes the AI", a)
			})
		}
		// A member takes an active conversation over.
		_, err = f.conn.Exec(ctx, `UPDATE ai_conversations SET state = 'active', paused_until = NULL WHERE id = $1`, conv)
		require.NoError(t, err)
		f.as(t, migrations.ActorMember, func(tx pgx.Tx) {
			n, err := probe(t, tx, `UPDATE ai_conversations SET state = 'paused' WHERE id = $1`, conv)
			requireRefused(t, n, err, "member: pause without an end (the runtime would ignore it)")
			n, err = probe(t, tx, `UPDATE ai_conversations SET state = 'paused', paused_until = now() + interval '30 minutes' WHERE id = $1`, conv)
			require.NoError(t, err)
			require.EqualValues(t, 1, n)
		})
	})

	t.Run("inactive tenant takes no configuration writes", func(t *testing.T) {
		_, err := f.conn.Exec(ctx, `UPDATE tenants SET is_active = false WHERE id = $1`, f.tenant["A"])
		require.NoError(t, err)
		t.Cleanup(func() { _, _ = f.conn.Exec(ctx, `UPDATE tenants SET is_active = true WHERE id = $1`, f.tenant["A"]) })
		for _, a := range clients {
			f.as(t, a, func(tx pgx.Tx) {
				n, err := probe(t, tx, `UPDATE ai_agents SET name = 'x' WHERE id = $1`, agent)
				requireRefused(t, n, err, string(a)+": agent of an inactive tenant")
				n, err = probe(t, tx, `UPDATE ai_conversations SET state = 'paused', paused_until = now() + interval '1 hour' WHERE id = $1`, conv)
				requireRefused(t, n, err, string(a)+": conversation of an inactive tenant")
				// Reading still works.
				n, err = probe(t, tx, `SELECT 1 FROM messages WHERE id = $1`, msg)
				require.NoError(t, err)
				require.EqualValues(t, 1, n)
			})
		}
	})
}

// TestSessionQuotaHoldsUnderConcurrency: two transactions racing for the
// last session slot of a tenant; the second waits for the first and is
// refused once it commits.
func TestSessionQuotaHoldsUnderConcurrency(t *testing.T) {
	t.Parallel()
	f := newMatrixFixture(t)
	ctx := context.Background()
	_, err := f.conn.Exec(ctx, `UPDATE tenants SET max_sessions = 2 WHERE id = $1`, f.tenant["A"])
	require.NoError(t, err)
	other, err := pgx.Connect(ctx, f.conn.Config().ConnString())
	require.NoError(t, err)
	defer other.Close(ctx)

	tx1, err := f.conn.Begin(ctx)
	require.NoError(t, err)
	_, err = tx1.Exec(ctx, `INSERT INTO whatsapp_sessions (tenant_id, phone_number, provider_type) VALUES ($1, '5511900000002', 'sandbox')`, f.tenant["A"])
	require.NoError(t, err)

	second := make(chan error, 1)
	go func() {
		_, err := other.Exec(ctx, `INSERT INTO whatsapp_sessions (tenant_id, phone_number, provider_type) VALUES ($1, '5511900000003', 'sandbox')`, f.tenant["A"])
		second <- err
	}()
	// The second insert waits on the tenant's quota lock.
	require.Eventually(t, func() bool {
		var waiting bool
		_ = f.conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND wait_event = 'advisory' AND datname = current_database())`).Scan(&waiting)
		return waiting
	}, 10*time.Second, 20*time.Millisecond)
	select {
	case err := <-second:
		t.Fatalf("second insert did not wait: %v", err)
	default:
	}
	require.NoError(t, tx1.Commit(ctx))
	err = <-second
	var pe *pgconn.PgError
	require.ErrorAs(t, err, &pe)
	require.Equal(t, "zapbase_session_limit", pe.Hint)
	require.Equal(t, "2", f.value(t, `SELECT count(*)::text FROM whatsapp_sessions WHERE tenant_id = $1`, f.tenant["A"]))
}
