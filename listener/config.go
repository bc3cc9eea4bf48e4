package listener

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// Defaults and limits of Config.
const (
	DefaultSlotName       = "zapbase"
	DefaultPublication    = "zapbase_messages"
	DefaultStatusInterval = 10 * time.Second
	// MaxStatusInterval bounds StatusInterval: wal_sender_timeout defaults
	// to 60 s and hosted projects may lower it.
	MaxStatusInterval   = 10 * time.Second
	DefaultMaxBatch     = 500
	DefaultBatchWait    = 2 * time.Millisecond
	DefaultMaxPending   = 100_000
	DefaultReconnectMin = time.Second
	DefaultReconnectMax = 30 * time.Second
	DefaultStandbyRetry = 5 * time.Second
)

var (
	// Slot names: PostgreSQL allows lower-case letters, digits and underscore.
	slotNameRE = regexp.MustCompile(`^[a-z0-9_]{1,63}$`)
	// Publication names are restricted to plain lower-case identifiers so
	// they can be embedded in replication commands without quoting issues.
	publicationRE = regexp.MustCompile(`^[a-z_][a-z0-9_]{0,62}$`)
)

// Handler receives the ids of rows inserted into public.messages.
type Handler interface {
	// HandleInserts is called with one batch of row ids (uuid text) in
	// commit order. Returning nil means every row of the batch is durably
	// claimed or handled: the listener may then acknowledge the batch's
	// LSN and PostgreSQL will never send these rows again. Returning an
	// error makes the listener retry the same batch after a backoff. The
	// same id may be delivered more than once (at-least-once delivery).
	HandleInserts(ctx context.Context, rowIDs []string) error
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(ctx context.Context, rowIDs []string) error

// HandleInserts calls f.
func (f HandlerFunc) HandleInserts(ctx context.Context, rowIDs []string) error { return f(ctx, rowIDs) }

// Config configures a Listener. Zero values take the defaults above.
type Config struct {
	// DatabaseURL is a direct (not pooled) connection string for a role with
	// the REPLICATION attribute. replication=database is added.
	DatabaseURL string
	// SlotName is the permanent logical slot (default "zapbase"). It must
	// not contain "realtime": Supabase Realtime drops such slots.
	SlotName string
	// Publication is the listener's own publication (default
	// "zapbase_messages"), created on public.messages with publish='insert'.
	Publication string
	// StatusInterval is the period of standby status updates (default and
	// maximum 10 s).
	StatusInterval time.Duration
	// Handler receives the inserted row ids. Required.
	Handler Handler
	// OnResyncFunc is called after the slot was (re)created, before
	// streaming starts: changes made while no slot existed are not in the
	// stream, so the callee reconciles from the table. Optional.
	OnResyncFunc func(ctx context.Context)
	// Logger receives the listener's logs (component=listener).
	Logger *slog.Logger
	// MaxBatch is the most ids passed to one HandleInserts call (default 500).
	MaxBatch int
	// BatchWait is how long the first pending id may wait for more to join
	// its batch (0: the default, 2 ms; −1: no wait). While the handler is
	// busy ids accumulate regardless, so batches grow with load. Measured
	// on 2 CPUs at 1,000 msg/s (tests/bench): no wait costs ~25% more CPU
	// per message (one claim per one or two rows) and, the machine busier,
	// a worse p99 than 2 ms; 5 ms saves a little more CPU but adds to p50.
	BatchWait time.Duration
	// MaxPending stops reading the stream while this many ids wait for the
	// handler (default 100000); status updates continue meanwhile.
	MaxPending int
	// ReconnectMin and ReconnectMax bound the exponential backoff (with
	// jitter) between connection attempts and handler retries
	// (defaults 1 s and 30 s).
	ReconnectMin, ReconnectMax time.Duration
	// StandbyRetry is how often a standby (slot held by another process)
	// tries to take the slot over (default 5 s, with jitter).
	StandbyRetry time.Duration
}

// Validate applies the defaults and checks the configuration.
func (c *Config) Validate() error {
	if c.DatabaseURL == "" {
		return errors.New("listener: DatabaseURL is required")
	}
	if _, err := pgconn.ParseConfig(c.DatabaseURL); err != nil {
		return fmt.Errorf("listener: parse DatabaseURL: %w", err)
	}
	if c.Handler == nil {
		return errors.New("listener: Handler is required")
	}
	if c.SlotName == "" {
		c.SlotName = DefaultSlotName
	}
	if !slotNameRE.MatchString(c.SlotName) {
		return fmt.Errorf("listener: invalid slot name %q (lower-case letters, digits and _; at most 63)", c.SlotName)
	}
	if strings.Contains(c.SlotName, "realtime") {
		return fmt.Errorf("listener: slot name %q must not contain \"realtime\" (Supabase Realtime drops such slots)", c.SlotName)
	}
	if c.Publication == "" {
		c.Publication = DefaultPublication
	}
	if !publicationRE.MatchString(c.Publication) {
		return fmt.Errorf("listener: invalid publication name %q", c.Publication)
	}
	if c.StatusInterval == 0 {
		c.StatusInterval = DefaultStatusInterval
	}
	if c.StatusInterval < 0 || c.StatusInterval > MaxStatusInterval {
		return fmt.Errorf("listener: StatusInterval %s must be in (0, %s]", c.StatusInterval, MaxStatusInterval)
	}
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	if c.MaxBatch < 0 {
		return fmt.Errorf("listener: MaxBatch %d must be positive", c.MaxBatch)
	}
	switch {
	case c.BatchWait == 0:
		c.BatchWait = DefaultBatchWait
	case c.BatchWait < 0:
		c.BatchWait = 0
	}
	if c.MaxPending == 0 {
		c.MaxPending = DefaultMaxPending
	}
	if c.MaxPending < c.MaxBatch {
		return fmt.Errorf("listener: MaxPending %d must be at least MaxBatch %d", c.MaxPending, c.MaxBatch)
	}
	if c.ReconnectMin == 0 {
		c.ReconnectMin = DefaultReconnectMin
	}
	if c.ReconnectMax == 0 {
		c.ReconnectMax = DefaultReconnectMax
	}
	if c.ReconnectMin < 0 || c.ReconnectMax < c.ReconnectMin {
		return fmt.Errorf("listener: need 0 < ReconnectMin (%s) <= ReconnectMax (%s)", c.ReconnectMin, c.ReconnectMax)
	}
	if c.StandbyRetry == 0 {
		c.StandbyRetry = DefaultStandbyRetry
	}
	if c.StandbyRetry < 0 {
		return fmt.Errorf("listener: StandbyRetry %s must be positive", c.StandbyRetry)
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return nil
}
