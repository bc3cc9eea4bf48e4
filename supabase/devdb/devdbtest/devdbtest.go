// Package devdbtest gives tests a real PostgreSQL (wal_level=logical) with
// the Supabase compatibility layer and zapbase's migrations.
//
// When TEST_DATABASE_URL is set, databases are created on that server;
// otherwise one throwaway server per test process is started from the system
// binaries (see devdb). Each test gets its own database, cloned from a
// migrated template, so tests run in parallel without sharing rows.
//
// Packages using it call Main from TestMain so the throwaway server stops
// when the tests end.
package devdbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net/url"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"go.uber.org/goleak"

	"github.com/zapbase/zapbase/migrations"
	"github.com/zapbase/zapbase/supabase/devdb"
)

var (
	once     sync.Once
	server   *devdb.Server
	adminURL string
	template string
	setupErr error
	tmpDir   string
	createMu sync.Mutex
)

// Main runs the tests and stops the throwaway server afterwards.
func Main(m *testing.M) {
	code := m.Run()
	Shutdown()
	os.Exit(code)
}

// MainLeakChecked is Main plus a goroutine-leak check (goleak) once the
// tests passed and the throwaway server is stopped (its process-wait
// goroutine is not a leak of the package under test). Options name the
// goroutines a package may legitimately leave behind.
func MainLeakChecked(m *testing.M, opts ...goleak.Option) {
	code := m.Run()
	Shutdown()
	if code == 0 {
		if err := goleak.Find(opts...); err != nil {
			fmt.Fprintln(os.Stderr, "goleak:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// Shutdown drops the template and stops the throwaway server, if any.
func Shutdown() {
	if template != "" && adminURL != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		if conn, err := pgx.Connect(ctx, adminURL); err == nil {
			_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{template}.Sanitize()+" WITH (FORCE)")
			conn.Close(ctx)
		}
		cancel()
	}
	if server != nil {
		_ = server.Stop()
	}
	if tmpDir != "" {
		_ = os.RemoveAll(tmpDir)
	}
}

func setup() {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	adminURL = os.Getenv("TEST_DATABASE_URL")
	if adminURL == "" {
		dir, err := os.MkdirTemp("", "zapbase-testdb-")
		if err != nil {
			setupErr = err
			return
		}
		tmpDir = dir
		server, err = devdb.Start(ctx, devdb.Options{DataDir: dir + "/pgdata", Fast: true})
		if err != nil {
			setupErr = err
			return
		}
		adminURL = server.URL("postgres")
	}
	template = "zbtpl_" + randomSuffix()
	if err := createDatabase(ctx, template, ""); err != nil {
		setupErr = err
		return
	}
	u := WithDatabase(adminURL, template)
	if err := devdb.ApplyCompat(ctx, u); err != nil {
		setupErr = err
		return
	}
	if err := migrations.Up(u); err != nil {
		setupErr = err
		return
	}
}

// Server returns the throwaway server, or nil when TEST_DATABASE_URL is used.
func Server(t testing.TB) *devdb.Server {
	t.Helper()
	ensure(t)
	return server
}

// AdminURL is a superuser URL on the test server (database postgres).
func AdminURL(t testing.TB) string {
	t.Helper()
	ensure(t)
	return adminURL
}

func ensure(t testing.TB) {
	t.Helper()
	once.Do(setup)
	if setupErr != nil {
		t.Fatalf("test database: %v", setupErr)
	}
}

// NewDatabase creates a database with the compat layer and every migration
// applied and returns its URL. It is dropped when the test ends.
func NewDatabase(t testing.TB) string {
	t.Helper()
	ensure(t)
	return newDB(t, template)
}

// NewEmptyDatabase creates an empty database (no compat layer, no
// migrations) and returns its URL. It is dropped when the test ends.
func NewEmptyDatabase(t testing.TB) string {
	t.Helper()
	ensure(t)
	return newDB(t, "")
}

func newDB(t testing.TB, from string) string {
	t.Helper()
	name := "zbtest_" + randomSuffix()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := createDatabase(ctx, name, from); err != nil {
		t.Fatalf("create test database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, adminURL)
		if err != nil {
			return
		}
		defer conn.Close(ctx)
		// Slots pin a database: drop the ones created in it first.
		_, _ = conn.Exec(ctx, `SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots WHERE database = $1 AND active_pid IS NOT NULL`, name)
		_, _ = conn.Exec(ctx, `SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE database = $1`, name)
		_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)")
	})
	return WithDatabase(adminURL, name)
}

func createDatabase(ctx context.Context, name, from string) error {
	// CREATE DATABASE ... TEMPLATE fails if another session is copying the
	// same template at that moment: serialise within the process.
	createMu.Lock()
	defer createMu.Unlock()
	conn, err := pgx.Connect(ctx, adminURL)
	if err != nil {
		return fmt.Errorf("connect to test server: %w", err)
	}
	defer conn.Close(ctx)
	stmt := "CREATE DATABASE " + pgx.Identifier{name}.Sanitize()
	if from != "" {
		stmt += " TEMPLATE " + pgx.Identifier{from}.Sanitize()
	}
	var lastErr error
	for i := 0; i < 50; i++ {
		if _, lastErr = conn.Exec(ctx, stmt); lastErr == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond) // template busy; try again
	}
	return fmt.Errorf("%s: %w", stmt, lastErr)
}

// WithDatabase returns rawURL pointing at database db.
func WithDatabase(rawURL, db string) string {
	u, err := url.Parse(rawURL)
	if err != nil {
		panic(err)
	}
	u.Path = "/" + db
	return u.String()
}

func randomSuffix() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
