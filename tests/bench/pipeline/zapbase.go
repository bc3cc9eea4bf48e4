package main

import (
	"bufio"
	"bytes"
	"cmp"
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

	"github.com/golang-jwt/jwt/v5"
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
	// mode is "" (producers insert rows through SQL as supabase-js does),
	// "text" (POST /api/v1/messages/text, one message per request) or
	// "bulk" (POST /api/v1/messages/send-bulk, bulkSize messages per request).
	mode      string
	slot      string // replication slots are per server: one per target
	baseURL   string
	pprofAddr string
	token     string
	http      *http.Client
	receipts  bool
	pool      *pgxpool.Pool
	proc      *exec.Cmd
	exited    chan struct{}
	logPath   string
	sendLog   string
	tenantID  string
	claims    string
	chats     int
}

var (
	listenRe = regexp.MustCompile(`"msg":"http listening","addr":"([^"]+)"`)
	pprofRe  = regexp.MustCompile(`"msg":"pprof listening","addr":"([^"]+)"`)
)

// bulkSize is the batch of the send-bulk producers.
const bulkSize = 50

type zapbaseParams struct {
	bin, url, dir string
	conns         int32
	chats         int
	receipts      bool
	mode          string
	run           int
}

func newZapbaseTarget(ctx context.Context, p zapbaseParams) (*zapbaseTarget, error) {
	pool, err := openPool(ctx, p.url, p.conns)
	if err != nil {
		return nil, err
	}
	tag := fmt.Sprintf("%s%d", p.mode, p.run)
	z := &zapbaseTarget{pool: pool, chats: p.chats, receipts: p.receipts, mode: p.mode, slot: "bench_zapbase_" + tag,
		logPath: filepath.Join(p.dir, "zapbase-"+tag+".log"), sendLog: filepath.Join(p.dir, "sandbox-sends-"+tag+".log"),
		http: &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}, Timeout: 30 * time.Second}}
	if err := z.seed(ctx); err != nil {
		pool.Close()
		return nil, err
	}
	if err := z.start(ctx, p.bin, p.url); err != nil {
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
	// The API's per-tenant rate limit (100/min by default) would cap the
	// HTTP producers: lift it.
	if err := z.pool.QueryRow(ctx, `INSERT INTO public.tenants (client_id, name, rate_limit_per_minute)
VALUES ('bench', 'Benchmark', 100000000) RETURNING id::text`).Scan(&z.tenantID); err != nil {
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
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{
		"sub": benchUserID, "role": "authenticated", "aud": "authenticated",
		"exp": time.Now().Add(24 * time.Hour).Unix(), "iat": time.Now().Unix(),
	}).SignedString([]byte(benchJWTSecret))
	if err != nil {
		return err
	}
	z.token = tok
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
		"ZAPBASE_LOG_LEVEL=" + cmp.Or(os.Getenv("BENCH_ZAPBASE_LOG_LEVEL"), "info"),
		"ZAPBASE_PPROF_ADDR=127.0.0.1:0",
		"ZAPBASE_SLOT_NAME=" + z.slot,
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
			if m := pprofRe.FindStringSubmatch(line); m != nil {
				z.pprofAddr = m[1]
			}
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
	z.baseURL = "http://" + a
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

func (z *zapbaseTarget) Name() string {
	if z.mode == "" {
		return "zapbase"
	}
	return "zapbase-api-" + z.mode
}

// profile starts a CPU profile of `zapbase serve` (through its pprof
// listener) for d and returns a function that waits for it and writes it
// to path.
func (z *zapbaseTarget) profile(path string, d time.Duration) func() {
	if z.pprofAddr == "" {
		return func() {}
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		req, _ := http.NewRequest(http.MethodGet, fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", z.pprofAddr, int(d.Seconds()+0.5)), nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return
		}
		defer resp.Body.Close()
		f, err := os.Create(path)
		if err != nil {
			return
		}
		defer f.Close()
		_, _ = io.Copy(f, resp.Body)
	}()
	return func() { <-done }
}

// Enqueue is what supabase-js' insert does through PostgREST: one
// transaction that sets the role and the JWT claims, then the INSERT under
// RLS, returning the id. Sent as one pipeline (one round trip).
func (z *zapbaseTarget) Enqueue(ctx context.Context, p, i int) ([]string, error) {
	switch z.mode {
	case "text":
		return z.enqueueText(ctx, p, i)
	case "bulk":
		return z.enqueueBulk(ctx, p, i)
	}
	b := &pgx.Batch{}
	b.Queue(`SELECT set_config('role', 'authenticated', true), set_config('request.jwt.claims', $1, true)`, z.claims)
	var id string
	b.Queue(`INSERT INTO public.messages (tenant_id, to_number, message_type, content)
VALUES ($1, $2, 'text', jsonb_build_object('text', $3::text)) RETURNING id::text`,
		z.tenantID, recipient(p, i, z.chats), "bench "+strconv.Itoa(i)).QueryRow(func(r pgx.Row) error { return r.Scan(&id) })
	if err := z.pool.SendBatch(ctx, b).Close(); err != nil {
		return nil, err
	}
	return []string{id}, nil
}

// enqueueText is one POST /api/v1/messages/text answered at once
// (?wait=false: the producer does not wait for the send, as a client that
// follows the status through Realtime would).
func (z *zapbaseTarget) enqueueText(ctx context.Context, p, i int) ([]string, error) {
	body, _ := json.Marshal(map[string]any{"to": recipient(p, i, z.chats), "content": "bench " + strconv.Itoa(i)})
	var out struct {
		MessageID string `json:"messageId"`
	}
	if err := z.post(ctx, "/api/v1/messages/text?wait=false", body, &out); err != nil {
		return nil, err
	}
	return []string{out.MessageID}, nil
}

// enqueueBulk is one POST /api/v1/messages/send-bulk of bulkSize messages.
func (z *zapbaseTarget) enqueueBulk(ctx context.Context, p, i int) ([]string, error) {
	type msg struct {
		To      string         `json:"to"`
		Type    string         `json:"type"`
		Content map[string]any `json:"content"`
	}
	msgs := make([]msg, bulkSize)
	for k := range msgs {
		msgs[k] = msg{To: recipient(p, i+k, z.chats), Type: "text", Content: map[string]any{"text": "bench " + strconv.Itoa(i+k)}}
	}
	body, _ := json.Marshal(map[string]any{"messages": msgs})
	var out struct {
		Messages []struct {
			MessageID string `json:"messageId"`
		} `json:"messages"`
	}
	if err := z.post(ctx, "/api/v1/messages/send-bulk", body, &out); err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(out.Messages))
	for _, m := range out.Messages {
		keys = append(keys, m.MessageID)
	}
	if len(keys) != bulkSize {
		return nil, fmt.Errorf("send-bulk answered %d ids for %d messages", len(keys), bulkSize)
	}
	return keys, nil
}

func (z *zapbaseTarget) post(ctx context.Context, path string, body []byte, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, z.baseURL+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+z.token)
	req.Header.Set("X-Client-Id", "bench")
	req.Header.Set("Content-Type", "application/json")
	resp, err := z.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST %s: %d %s", path, resp.StatusCode, b)
	}
	return json.Unmarshal(b, out)
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

func (z *zapbaseTarget) PID() int {
	if z.proc == nil || z.proc.Process == nil {
		return 0
	}
	return z.proc.Process.Pid
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
	// A slot left behind would retain WAL for the rest of the run.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, _ = z.pool.Exec(ctx, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = $1 AND NOT active`, z.slot)
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
