package sandbox

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/zapbase/zapbase/providers"
)

// SendLog is a durable record of provider calls: one line per Send, so that
// crash tests and benchmarks can count sends (and duplicate sends) across
// process restarts and read when each message reached the channel.
//
// Each call is one write(2) of one line on an O_APPEND file, unbuffered: a
// process killed with SIGKILL loses no call that had started. (It is not
// fsynced: a machine crash may lose the tail, which tests do not need.)
//
// Line format, space separated:
//
//	<unix nanoseconds of the call> <messages.id> <provider message id or -> <attempt>
type SendLog struct {
	mu sync.Mutex
	f  *os.File
}

// OpenSendLog opens (creating or appending to) the send log at path.
func OpenSendLog(path string) (*SendLog, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open sandbox send log: %w", err)
	}
	return &SendLog{f: f}, nil
}

// Record appends one call. Its signature fits Config.OnSendFunc, which the
// sandbox calls at the start of every Send.
func (l *SendLog) Record(msg providers.OutboundMessage) {
	now := time.Now().UnixNano()
	mid := msg.ProviderMessageID
	if mid == "" {
		mid = "-"
	}
	line := strconv.FormatInt(now, 10) + " " + msg.RowID + " " + mid + " " + strconv.Itoa(msg.Attempt) + "\n"
	l.mu.Lock()
	defer l.mu.Unlock()
	// A failed write cannot fail the send (the log is a test aid); the
	// reader sees the gap as a missing call.
	_, _ = l.f.WriteString(line)
}

// Close closes the file.
func (l *SendLog) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.f.Close()
}

// SendLogEntry is one line of a send log.
type SendLogEntry struct {
	At                time.Time
	RowID             string
	ProviderMessageID string // empty when dispatch did not choose one
	Attempt           int
}

// ReadSendLog parses a send log. A torn last line (the writer was killed
// mid-write) is ignored.
func ReadSendLog(path string) ([]SendLogEntry, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read sandbox send log: %w", err)
	}
	defer f.Close()
	var out []SendLogEntry
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 4 {
			continue
		}
		ns, err1 := strconv.ParseInt(fields[0], 10, 64)
		attempt, err2 := strconv.Atoi(fields[3])
		if err1 != nil || err2 != nil {
			continue
		}
		e := SendLogEntry{At: time.Unix(0, ns), RowID: fields[1], ProviderMessageID: fields[2], Attempt: attempt}
		if e.ProviderMessageID == "-" {
			e.ProviderMessageID = ""
		}
		out = append(out, e)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read sandbox send log: %w", err)
	}
	return out, nil
}
