package devdb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Defaults for the embedded server.
const (
	DefaultMaxReplicationSlots = 32
	DefaultMaxWALSenders       = 32
	DefaultMaxConnections      = 300
	startTimeout               = 60 * time.Second
	stopTimeout                = 30 * time.Second
	fastWait                   = 10 * time.Second
	// Superuser is the database superuser created by initdb.
	Superuser = "postgres"
)

// Options configure an embedded server.
type Options struct {
	// DataDir holds the cluster; an existing cluster is reused.
	DataDir string
	// Port to listen on (127.0.0.1). Zero picks a free port.
	Port int
	// Fast trades durability for speed (fsync off): tests only.
	Fast bool
	// WALLevel defaults to "logical"; tests of `doctor` use "replica".
	WALLevel string
	// ExtraSettings are passed as -c name=value.
	ExtraSettings map[string]string
	// Logger receives progress lines; nil discards them.
	Logger *slog.Logger
}

// Server is a running PostgreSQL started by Start.
type Server struct {
	opts    Options
	port    int
	cmd     *exec.Cmd
	done    chan struct{}
	waitErr error
	stop    sync.Once
	stopErr error
}

// FindBinaries returns the directory holding initdb and postgres: the
// PG_BIN environment variable, else the newest /usr/lib/postgresql/N/bin,
// else the directory of initdb on PATH.
func FindBinaries() (string, error) {
	if dir := os.Getenv("PG_BIN"); dir != "" {
		if hasBinaries(dir) {
			return dir, nil
		}
		return "", fmt.Errorf("PG_BIN=%s does not contain initdb and postgres", dir)
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(matches, func(i, j int) bool { return pgMajor(matches[i]) > pgMajor(matches[j]) })
	for _, dir := range matches {
		if hasBinaries(dir) {
			return dir, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		dir := filepath.Dir(p)
		if resolved, err := filepath.EvalSymlinks(p); err == nil {
			dir = filepath.Dir(resolved)
		}
		if hasBinaries(dir) {
			return dir, nil
		}
	}
	return "", errors.New("PostgreSQL binaries (initdb, postgres) not found; install the Debian package `postgresql` or set PG_BIN")
}

func pgMajor(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

func hasBinaries(dir string) bool {
	for _, b := range []string{"initdb", "postgres"} {
		if st, err := os.Stat(filepath.Join(dir, b)); err != nil || st.IsDir() {
			return false
		}
	}
	return true
}

// EnsureBinaries finds the PostgreSQL binaries and, when they are missing and
// the process runs as root on a Debian-like system, installs them with
// apt-get. Other users get an error that says what to install.
func EnsureBinaries(ctx context.Context, log *slog.Logger) (string, error) {
	dir, err := FindBinaries()
	if err == nil {
		return dir, nil
	}
	if os.Geteuid() != 0 {
		return "", err
	}
	if _, lerr := exec.LookPath("apt-get"); lerr != nil {
		return "", err
	}
	logger(log).Info("installing PostgreSQL with apt-get (binaries not found)")
	env := append(os.Environ(), "DEBIAN_FRONTEND=noninteractive")
	for _, args := range [][]string{{"update"}, {"install", "-y", "--no-install-recommends", "postgresql"}} {
		cmd := exec.CommandContext(ctx, "apt-get", args...)
		cmd.Env = env
		if out, cerr := cmd.CombinedOutput(); cerr != nil {
			return "", fmt.Errorf("apt-get %s: %w: %s", strings.Join(args, " "), cerr, tail(out))
		}
	}
	return FindBinaries()
}

func logger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l
}

// Start initialises (if needed) and starts a server, waiting until it accepts
// connections. The caller must Stop it.
func Start(ctx context.Context, opts Options) (*Server, error) {
	log := logger(opts.Logger)
	bin, err := EnsureBinaries(ctx, log)
	if err != nil {
		return nil, err
	}
	if opts.DataDir == "" {
		return nil, errors.New("devdb: DataDir is required")
	}
	if opts.WALLevel == "" {
		opts.WALLevel = "logical"
	}
	abs, err := filepath.Abs(opts.DataDir)
	if err != nil {
		return nil, fmt.Errorf("data dir: %w", err)
	}
	opts.DataDir = abs
	cred, err := runAs()
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(opts.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("create data dir: %w", err)
	}
	if cred != nil {
		if err := chownTree(opts.DataDir, int(cred.Uid), int(cred.Gid)); err != nil {
			return nil, err
		}
		// The unprivileged user must be able to reach the data dir.
		if err := ensureTraversable(filepath.Dir(opts.DataDir)); err != nil {
			return nil, err
		}
	}
	if _, err := os.Stat(filepath.Join(opts.DataDir, "PG_VERSION")); errors.Is(err, os.ErrNotExist) {
		log.Info("initialising PostgreSQL cluster", "data_dir", opts.DataDir)
		cmd := exec.CommandContext(ctx, filepath.Join(bin, "initdb"),
			"-D", opts.DataDir, "-U", Superuser, "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		if out, err := cmd.CombinedOutput(); err != nil {
			// C.UTF-8 may be missing on minimal systems; retry with C.
			cmd = exec.CommandContext(ctx, filepath.Join(bin, "initdb"),
				"-D", opts.DataDir, "-U", Superuser, "--auth=trust", "--encoding=UTF8", "--locale=C")
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
			if out2, err2 := cmd.CombinedOutput(); err2 != nil {
				return nil, fmt.Errorf("initdb: %w: %s %s", err2, tail(out), tail(out2))
			}
		}
	}
	port := opts.Port
	if port == 0 {
		if port, err = freePort(); err != nil {
			return nil, err
		}
	}
	settings := map[string]string{
		"listen_addresses":        "127.0.0.1",
		"port":                    strconv.Itoa(port),
		"unix_socket_directories": "",
		"wal_level":               opts.WALLevel,
		"max_replication_slots":   strconv.Itoa(DefaultMaxReplicationSlots),
		"max_wal_senders":         strconv.Itoa(DefaultMaxWALSenders),
		"max_connections":         strconv.Itoa(DefaultMaxConnections),
		"wal_sender_timeout":      "60s",
		"max_slot_wal_keep_size":  "4096MB",
		"shared_buffers":          "128MB",
		"timezone":                "UTC",
		"log_min_messages":        "warning",
	}
	if opts.WALLevel != "logical" {
		settings["max_replication_slots"] = "0"
		settings["max_wal_senders"] = "0"
		settings["wal_level"] = opts.WALLevel
	}
	if opts.Fast {
		settings["fsync"] = "off"
		settings["synchronous_commit"] = "off"
		settings["full_page_writes"] = "off"
	}
	for k, v := range opts.ExtraSettings {
		settings[k] = v
	}
	args := []string{"-D", opts.DataDir}
	keys := make([]string, 0, len(settings))
	for k := range settings {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		args = append(args, "-c", k+"="+settings[k])
	}
	logFile, err := os.OpenFile(filepath.Join(opts.DataDir, "zapbase-postgres.log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open postgres log: %w", err)
	}
	if cred != nil {
		_ = logFile.Chown(int(cred.Uid), int(cred.Gid))
	}
	cmd := exec.Command(filepath.Join(bin, "postgres"), args...)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	// Pdeathsig: if the parent dies (even by SIGKILL) the server shuts down
	// fast instead of holding the data directory.
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred, Pdeathsig: syscall.SIGINT, Setpgid: true}
	if err := cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start postgres: %w", err)
	}
	s := &Server{opts: opts, port: port, cmd: cmd, done: make(chan struct{})}
	go func() {
		s.waitErr = cmd.Wait()
		logFile.Close()
		close(s.done)
	}()
	if err := s.waitReady(ctx); err != nil {
		s.Stop()
		logTail, _ := os.ReadFile(filepath.Join(opts.DataDir, "zapbase-postgres.log"))
		return nil, fmt.Errorf("postgres did not become ready: %w: %s", err, tail(logTail))
	}
	log.Info("PostgreSQL ready", "port", port, "data_dir", opts.DataDir, "wal_level", opts.WALLevel)
	return s, nil
}

func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, startTimeout)
	defer cancel()
	for {
		conn, err := pgconn.Connect(ctx, s.URL("postgres"))
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		select {
		case <-s.done:
			return fmt.Errorf("postgres exited: %v", s.waitErr)
		case <-ctx.Done():
			return fmt.Errorf("%w (last error: %v)", ctx.Err(), err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// Port returns the TCP port on 127.0.0.1.
func (s *Server) Port() int { return s.port }

// DataDir returns the cluster directory.
func (s *Server) DataDir() string { return s.opts.DataDir }

// URL returns a connection URL for database db as the superuser.
func (s *Server) URL(db string) string {
	return fmt.Sprintf("postgres://%s@127.0.0.1:%d/%s?sslmode=disable", Superuser, s.port, db)
}

// Done is closed when the server process has exited.
func (s *Server) Done() <-chan struct{} { return s.done }

// Stop shuts the server down and waits for it; it is idempotent. It asks
// for a fast shutdown (running transactions are rolled back, data flushed).
// A logical walsender delays that shutdown until its client confirms the
// final WAL position — a consumer that cannot confirm because the database
// is going away holds it up to wal_sender_timeout — so after fastWait Stop
// escalates to an immediate shutdown (crash-like; recovery runs at the next
// start), and kills the process as the last resort.
func (s *Server) Stop() error {
	s.stop.Do(func() {
		select {
		case <-s.done:
			return
		default:
		}
		_ = s.cmd.Process.Signal(syscall.SIGINT)
		select {
		case <-s.done:
			return
		case <-time.After(fastWait):
		}
		_ = s.cmd.Process.Signal(syscall.SIGQUIT)
		select {
		case <-s.done:
		case <-time.After(stopTimeout):
			_ = s.cmd.Process.Kill()
			<-s.done
			s.stopErr = errors.New("postgres did not stop in time; killed")
		}
	})
	return s.stopErr
}

// Restart stops the server and starts it again on the same port and data
// directory (used by tests that restart Postgres mid-stream).
func (s *Server) Restart(ctx context.Context) (*Server, error) {
	if err := s.Stop(); err != nil {
		return nil, err
	}
	opts := s.opts
	opts.Port = s.port
	return Start(ctx, opts)
}

// runAs returns the credential to run PostgreSQL with: nil when not root.
func runAs() (*syscall.Credential, error) {
	if os.Geteuid() != 0 {
		return nil, nil
	}
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		return &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}, nil
	}
	return nil, errors.New("running as root and no unprivileged user (postgres or nobody) exists to run PostgreSQL")
}

func chownTree(root string, uid, gid int) error {
	return filepath.Walk(root, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		if st, ok := info.Sys().(*syscall.Stat_t); ok && int(st.Uid) == uid && int(st.Gid) == gid {
			return nil
		}
		return os.Lchown(path, uid, gid)
	})
}

// ensureTraversable makes sure every parent of dir can be traversed by other
// users (o+x), as the unprivileged server user must reach its data dir.
func ensureTraversable(dir string) error {
	for d := dir; d != "/" && d != "."; d = filepath.Dir(d) {
		st, err := os.Stat(d)
		if err != nil {
			return err
		}
		if st.Mode().Perm()&0o001 == 0 {
			if err := os.Chmod(d, st.Mode().Perm()|0o001); err != nil {
				return fmt.Errorf("make %s traversable for the postgres user: %w", d, err)
			}
		}
	}
	return nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pick a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(b []byte) string {
	b = bytes.TrimSpace(b)
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}
