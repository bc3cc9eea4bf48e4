package tests

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/zapbase/zapbase/supabase/devdb/devdbtest"
)

// Test credentials used by StartServe unless overridden.
const (
	testJWTSecret     = "test-jwt-secret-0123456789abcdef0123456789"
	testJWTIssuer     = "zapbase-test"
	testEncryptionKey = "AQIDBAUGBwgJCgsMDQ4PEBESExQVFhcYGRobHB0eHyA="
	testAdminToken    = "zb_admin_test_0123456789abcdef"
	testWebhookSecret = "supabase-webhook-secret-for-tests"
)

var zapbaseBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "zapbase-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	zapbaseBin = filepath.Join(dir, "zapbase")
	// The test hooks (offline WhatsApp Web, crash before an AI commit) exist
	// only in a binary built with this tag.
	build := exec.Command("go", "build", "-tags", "zapbase_testhooks", "-o", zapbaseBin, "../cmd/zapbase")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build zapbase:", err)
		os.Exit(1)
	}
	code := m.Run()
	devdbtest.Shutdown()
	os.RemoveAll(dir)
	os.Exit(code)
}

// Proc is a running zapbase process.
type Proc struct {
	t      testing.TB
	cmd    *exec.Cmd
	mu     sync.Mutex
	logs   bytes.Buffer
	stdout bytes.Buffer
	addr   chan string
	Addr   string // host:port of the HTTP server
	done   chan struct{}
	exit   error
}

// BaseURL is http://Addr.
func (p *Proc) BaseURL() string { return "http://" + p.Addr }

// Logs returns everything the process wrote to stderr and stdout so far.
func (p *Proc) Logs() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String() + p.stdout.String()
}

// Kill sends SIGKILL and waits for the exit.
func (p *Proc) Kill() {
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

// Stop sends SIGTERM and waits up to timeout; it returns the exit error
// (nil for exit code 0).
func (p *Proc) Stop(timeout time.Duration) error {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.exit
	case <-time.After(timeout):
		p.Kill()
		return fmt.Errorf("did not exit within %s", timeout)
	}
}

// Exited is closed when the process has exited.
func (p *Proc) Exited() <-chan struct{} { return p.done }

var listenRe = regexp.MustCompile(`"msg":"http listening","addr":"([^"]+)"`)

type lineWriter struct {
	p   *Proc
	buf *bytes.Buffer
	rem []byte
}

func (w *lineWriter) Write(b []byte) (int, error) {
	w.p.mu.Lock()
	w.buf.Write(b)
	w.p.mu.Unlock()
	w.rem = append(w.rem, b...)
	for {
		i := bytes.IndexByte(w.rem, '\n')
		if i < 0 {
			break
		}
		line := w.rem[:i]
		w.rem = w.rem[i+1:]
		if m := listenRe.FindSubmatch(line); m != nil {
			select {
			case w.p.addr <- string(m[1]):
			default:
			}
		}
	}
	return len(b), nil
}

// ServeEnv returns the default environment for `zapbase serve` against
// databaseURL (HS256 test JWTs, sandbox provider, port 0).
func ServeEnv(databaseURL string) map[string]string {
	return map[string]string{
		"DATABASE_URL":                    databaseURL,
		"SUPABASE_JWT_SECRET":             testJWTSecret,
		"SUPABASE_JWT_ISSUER":             testJWTIssuer,
		"ZAPBASE_ENCRYPTION_KEY":          testEncryptionKey,
		"ZAPBASE_ADMIN_TOKEN":             testAdminToken,
		"ZAPBASE_SUPABASE_WEBHOOK_SECRET": testWebhookSecret,
		"ZAPBASE_HTTP_ADDR":               "127.0.0.1:0",
		"ZAPBASE_SANDBOX":                 "true",
		"ZAPBASE_LOG_LEVEL":               "info",
	}
}

// Start runs the binary with args and env and waits until its HTTP server
// answers /readyz with 200.
func Start(t testing.TB, env map[string]string, args ...string) *Proc {
	t.Helper()
	p := &Proc{t: t, addr: make(chan string, 1), done: make(chan struct{})}
	p.cmd = exec.Command(zapbaseBin, args...)
	p.cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		p.cmd.Env = append(p.cmd.Env, k+"="+v)
	}
	if dir, ok := env["__DIR"]; ok {
		p.cmd.Dir = dir
	}
	p.cmd.Stderr = &lineWriter{p: p, buf: &p.logs}
	p.cmd.Stdout = &lineWriter{p: p, buf: &p.stdout}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start zapbase: %v", err)
	}
	go func() {
		p.exit = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.Stop(30 * time.Second)
		}
		if t.Failed() {
			t.Logf("zapbase output:\n%s", tail(p.Logs(), 8000))
		}
	})
	select {
	case p.Addr = <-p.addr:
	case <-p.done:
		t.Fatalf("zapbase exited before listening: %v\n%s", p.exit, tail(p.Logs(), 8000))
	case <-time.After(90 * time.Second):
		t.Fatalf("zapbase did not start listening\n%s", tail(p.Logs(), 8000))
	}
	WaitReady(t, p)
	return p
}

// StartServe runs `zapbase serve` with ServeEnv(databaseURL) plus overrides.
func StartServe(t testing.TB, databaseURL string, overrides map[string]string) *Proc {
	t.Helper()
	env := ServeEnv(databaseURL)
	for k, v := range overrides {
		env[k] = v
	}
	return Start(t, env, "serve")
}

// WaitReady polls /readyz until 200.
func WaitReady(t testing.TB, p *Proc) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		resp, err := http.Get(p.BaseURL() + "/readyz")
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz never answered 200 (last: %v)", err)
		}
		select {
		case <-p.done:
			t.Fatalf("zapbase exited: %v\n%s", p.exit, tail(p.Logs(), 8000))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// getJSON GETs url and decodes the JSON body into v, returning the status.
func getJSON(t testing.TB, url string, v any) int {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	if v != nil {
		_ = json.NewDecoder(resp.Body).Decode(v)
	}
	return resp.StatusCode
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// scanLines calls fn for each line of s.
func scanLines(s string, fn func(string)) {
	sc := bufio.NewScanner(strings.NewReader(s))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		fn(sc.Text())
	}
}

// withTimeout is a context for test I/O.
func withTimeout(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}
