package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/zapbase/zapbase/providers/sandbox"
)

// Credentials for the benchmark's throwaway zapbase process.
const (
	benchJWTSecret     = "bench-jwt-secret-0123456789abcdef0123456789"
	benchEncryptionKey = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="
	benchUserID        = "00000000-0000-4000-8000-00000000be0c"
)

// zapbaseTarget: producers insert public.messages rows as supabase-js does
// (role authenticated with the user's JWT claims, RLS checked, one round
// trip), the real `zapbase serve` picks them up through logical replication
// and sends them through a zero-delay sandbox. Provider call times come from
// the sandbox send log (ZAPBASE_SANDBOX_SEND_LOG).
type zapbaseTarget struct {
	receipts bool
	pool     *pgxpool.Pool
	proc     *exec.Cmd
	exited   chan struct{}
	logPath  string
	sendLog  string
	tenantID string
	claims   string
	chats    int
}

var listenRe = regexp.MustCompile(`"msg":"http listening","addr":"([^"]+)"`)

func newZapbaseTarget(ctx context.Context, bin, url, dir string, conns int32, chats int, receipts bool) (*zapbaseTarget, error) {
	pool, err := openPool(ctx, url, conns)
	if err != nil {
		return nil, err
	}
	z := &zapbaseTarget{pool: pool, chats: chats, receipts: receipts, logPath: filepath.Join(dir, "zapbase.log"), sendLog: filepath.Join(dir, "sandbox-sends.log")}
	if err := z.seed(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	if err := z.start(ctx, bin, url); err != nil {
		pool.Close()
		return nil, err
	}
	return z, nil
}

// seed creates a user, a tenant with that user as owner, and a connected
// sandbox session.
func (z *zapbaseTarget) seed(ctx context.Context) error {
	_, err := z.pool.Exec(ctx, `INSERT INTO auth.users (id, email) VALUES ($1, 'bench@example.com') ON CONFLICT DO NOTHING`, benchUserID)
	if err != nil {
		return fmt.Errorf("seed user: %w", err)
	}
	if err := z.pool.QueryRow(ctx, `INSERT INTO public.tenants (client_id, name) VALUES ('bench', 'Benchmark') RETURNING id::text`).Scan(&z.tenantID); err != nil {
		return fmt.Errorf("seed tenant: %w", err)
	}
	if _, err := z.pool.Exec(ctx, `INSERT INTO public.tenant_members (tenant_id, user_id, role) VALUES ($1, $2, 'owner')`, z.tenantID, benchUserID); err != nil {
		return fmt.Errorf("seed member: %w", err)
	}
	if _, err := z.pool.Exec(ctx, `INSERT INTO public.whatsapp_sessions (tenant_id, phone_number, provider_type, state, connected_at)
VALUES ($1, '5511900000001', 'sandbox', 'connected', now())`, z.tenantID); err != nil {
		return fmt.Errorf("seed session: %w", err)
	}
	claims, _ := json.Marshal(map[string]any{"sub": benchUserID, "role": "authenticated", "aud": "authenticated"})
	z.claims = string(claims)
	return nil
}

func (z *zapbaseTarget) start(ctx context.Context, bin, url string) error {
	logFile, err := os.Create(z.logPath)
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, "serve")
	cmd.Env = []string{
		"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME"),
		"DATABASE_URL=" + url,
		"SUPABASE_JWT_SECRET=" + benchJWTSecret,
		"ZAPBASE_ENCRYPTION_KEY=" + benchEncryptionKey,
		"ZAPBASE_HTTP_ADDR=127.0.0.1:0",
		"ZAPBASE_SANDBOX=true",
		"ZAPBASE_SANDBOX_RECEIPT_DELAY=0",
		fmt.Sprintf("ZAPBASE_SANDBOX_RECEIPTS=%v", z.receipts),
		"ZAPBASE_SANDBOX_SEND_LOG=" + z.sendLog,
		"ZAPBASE_LOG_LEVEL=info",
	}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		return err
	}
	cmd.Stdout = logFile
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("start zapbase: %w", err)
	}
	z.proc = cmd
	z.exited = make(chan struct{})
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logFile, line)
			if m := listenRe.FindStringSubmatch(line); m != nil {
				select {
				case addr <- m[1]:
				default:
				}
			}
		}
		_ = cmd.Wait()
		logFile.Close()
		close(z.exited)
	}()
	var a string
	select {
	case a = <-addr:
	case <-z.exited:
		return fmt.Errorf("zapbase exited at start; log: %s\n%s", z.logPath, tailFile(z.logPath))
	case <-time.After(60 * time.Second):
		return fmt.Errorf("zapbase did not start; log: %s\n%s", z.logPath, tailFile(z.logPath))
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get("http://" + a + "/readyz")
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("zapbase /readyz never answered 200; log: %s", z.logPath)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func (z *zapbaseTarget) Name() string { return "zapbase" }

// Enqueue is what supabase-js' insert does through PostgREST: one
// transaction that sets the role and the JWT claims, then the INSERT under
// RLS, returning the id. Sent as one pipeline (one round trip).
func (z *zapbaseTarget) Enqueue(ctx context.Context, p, i int) (string, error) {
	b := &pgx.Batch{}
	b.Queue(`SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true)`, z.claims)
	var id string
	b.Queue(`INSERT INTO public.messages (tenant_id, to_number, message_type, content)
VALUES ($1, $2, 'text', jsonb_build_object('text', $3::text)) RETURNING id::text`,
		z.tenantID, recipient(p, i, z.chats), "bench "+strconv.Itoa(i)).QueryRow(func(r pgx.Row) error { return r.Scan(&id) })
	if err := z.pool.SendBatch(ctx, b).Close(); err != nil {
		return "", err
	}
	return id, nil
}

func (z *zapbaseTarget) Done(ctx context.Context, keys []string) (time.Time, error) {
	if err := waitZero(ctx, z.pool, `SELECT count(*) FROM public.messages
 WHERE tenant_id = $1 AND direction = 'outbound' AND status IN ('pending', 'sending')`, z.tenantID); err != nil {
		return time.Time{}, fmt.Errorf("zapbase: %w (log: %s)", err, z.logPath)
	}
	var (
		end    time.Time
		failed int
	)
	err := z.pool.QueryRow(ctx, `SELECT max(sent_at), count(*) FILTER (WHERE status = 'failed')
  FROM public.messages WHERE id = ANY($1::uuid[])`, keys).Scan(&end, &failed)
	if err != nil {
		return time.Time{}, err
	}
	if failed > 0 {
		return time.Time{}, fmt.Errorf("zapbase: %d messages failed (log: %s)", failed, z.logPath)
	}
	return end, nil
}

func (z *zapbaseTarget) Calls(ctx context.Context) (map[string]time.Time, error) {
	entries, err := sandbox.ReadSendLog(z.sendLog)
	if err != nil {
		return nil, err
	}
	out := make(map[string]time.Time, len(entries))
	for _, e := range entries {
		if _, ok := out[e.RowID]; !ok {
			out[e.RowID] = e.At
		}
	}
	return out, nil
}

func (z *zapbaseTarget) Close() {
	if z.proc != nil && z.proc.Process != nil {
		_ = z.proc.Process.Signal(syscall.SIGTERM)
		select {
		case <-z.exited:
		case <-time.After(30 * time.Second):
			_ = z.proc.Process.Kill()
			<-z.exited
		}
	}
	z.pool.Close()
}

// buildZapbase builds the real binary from the repository root.
func buildZapbase(ctx context.Context, root, out string) error {
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "./cmd/zapbase")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/zapbase: %w: %s", err, b)
	}
	return nil
}

// repoRoot finds the zapbase module root from the working directory.
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		b, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(b), "module github.com/zapbase/zapbase\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("zapbase repository root not found (run from tests/bench)")
		}
		dir = parent
	}
}

func tailFile(path string) string {
	b, _ := os.ReadFile(path)
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return string(b)
}
