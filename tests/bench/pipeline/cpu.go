package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of utime/stime in /proc/<pid>/stat (USER_HZ, 100 on
// every Linux architecture Go supports).
const clockTick = 10 * time.Millisecond

// cpuUsage is CPU time (user+system) consumed by the processes that work
// for the system under test: the benchmark process itself (producers, and
// River or the raw loop, which run in it), the system's own process (zapbase
// serve) and every PostgreSQL process (backends, walsender, background
// workers), split by PostgreSQL process kind.
type cpuUsage struct {
	bench, system time.Duration
	pg            map[string]time.Duration
}

func (u cpuUsage) pgTotal() time.Duration {
	var t time.Duration
	for _, d := range u.pg {
		t += d
	}
	return t
}

func (u cpuUsage) total() time.Duration { return u.bench + u.system + u.pgTotal() }

// sub is u − v, per process kind.
func (u cpuUsage) sub(v cpuUsage) cpuUsage {
	out := cpuUsage{bench: u.bench - v.bench, system: u.system - v.system, pg: map[string]time.Duration{}}
	for k, d := range u.pg {
		out.pg[k] = d - v.pg[k]
	}
	return out
}

// cpuMeter samples the CPU time of the benchmark, the system process and
// the PostgreSQL server's processes. Backends that exited between two
// samples lose their time; the benchmark keeps its connections open (pools
// with MinConns = MaxConns), so only short-lived maintenance processes can.
type cpuMeter struct {
	postmaster int
	systemPID  func() int
}

func newCPUMeter(dataDir string) (*cpuMeter, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		return nil, fmt.Errorf("read postmaster.pid: %w", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[0]))
	if err != nil {
		return nil, fmt.Errorf("parse postmaster.pid: %w", err)
	}
	return &cpuMeter{postmaster: pid}, nil
}

func (m *cpuMeter) sample(systemPID int) cpuUsage {
	u := cpuUsage{pg: map[string]time.Duration{}}
	u.bench, _, _ = procCPU(os.Getpid())
	if systemPID > 0 {
		u.system, _, _ = procCPU(systemPID)
	}
	if d, _, ok := procCPU(m.postmaster); ok {
		u.pg["postmaster"] += d
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		d, ppid, ok := procCPU(pid)
		if !ok || ppid != m.postmaster {
			continue
		}
		u.pg[pgKind(pid)] += d
	}
	return u
}

// procCPU reads utime+stime and the parent pid of a process.
func procCPU(pid int) (cpu time.Duration, ppid int, ok bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, 0, false
	}
	// The command name (field 2) may contain spaces: fields start after ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(string(b[i+1:]))
	// f[0] is field 3 (state): ppid is field 4, utime 14, stime 15.
	if len(f) < 13 {
		return 0, 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(ut+st) * clockTick, ppid, true
}

// pgKind names a PostgreSQL child process from its title.
func pgKind(pid int) string {
	b, _ := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cmdline")
	title := strings.TrimPrefix(strings.TrimRight(string(bytes.ReplaceAll(b, []byte{0}, []byte{' '})), " "), "postgres: ")
	switch {
	case strings.HasPrefix(title, "walsender"):
		return "walsender"
	case strings.HasPrefix(title, "autovacuum"):
		return "autovacuum"
	case strings.HasPrefix(title, "checkpointer"), strings.HasPrefix(title, "background writer"),
		strings.HasPrefix(title, "walwriter"), strings.HasPrefix(title, "logical replication"),
		strings.HasPrefix(title, "stats"), strings.HasPrefix(title, "archiver"):
		return "background"
	default:
		return "backends"
	}
}

// loadAverage is /proc/loadavg's first three fields.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// spinEnv makes the benchmark binary a CPU-spinning noise process.
const spinEnv = "ZAPBASE_BENCH_SPIN"

// spinIfChild turns this process into a noise generator when re-executed by
// startNoise: it spins on one CPU until killed.
func spinIfChild() {
	if os.Getenv(spinEnv) != "1" {
		return
	}
	runtime.GOMAXPROCS(1)
	x := uint64(1)
	for {
		x = x*6364136223846793005 + 1442695040888963407
		if x == 0 {
			fmt.Println(x)
		}
	}
}

// startNoise starts n CPU-spinning processes (separate processes, so their
// CPU time is not counted as the benchmark's) and returns a stop function.
func startNoise(n int) (func(), error) {
	if n <= 0 {
		return func() {}, nil
	}
	self, err := os.Executable()
	if err != nil {
		return nil, err
	}
	var cmds []*exec.Cmd
	stop := func() {
		for _, c := range cmds {
			_ = c.Process.Kill()
			_ = c.Wait()
		}
	}
	for range n {
		c := exec.Command(self)
		c.Env = append(os.Environ(), spinEnv+"=1")
		if err := c.Start(); err != nil {
			stop()
			return nil, fmt.Errorf("start noise process: %w", err)
		}
		cmds = append(cmds, c)
	}
	return stop, nil
}
