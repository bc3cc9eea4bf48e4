package webhooks

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/zapbase/zapbase/startstop"
	"github.com/zapbase/zapbase/store"
)

// Fan-out defaults.
const (
	DefaultPollInterval = 250 * time.Millisecond
	DefaultFanoutBatch  = 500
	// DefaultIdleAdvance: with no active subscription anywhere the feed is
	// not read; the cursor jumps to the feed's end this often, so the
	// first subscription does not make the fan-out walk days of feed.
	DefaultIdleAdvance = 30 * time.Second
)

// FanoutConfig configures a Fanout.
type FanoutConfig struct {
	Store        *store.Store
	PollInterval time.Duration // default DefaultPollInterval
	BatchSize    int           // feed rows per step; default DefaultFanoutBatch
	IdleAdvance  time.Duration // default DefaultIdleAdvance
	// OnDeliveriesFunc is called after a step inserted deliveries (the
	// deliverer's Nudge).
	OnDeliveriesFunc func()
	Logger           *slog.Logger
}

// Fanout turns change-feed rows into delivery rows.
type Fanout struct {
	cfg  FanoutConfig
	log  *slog.Logger
	kick chan struct{}
	startstop.BaseStartStop
	lastIdle time.Time
}

// NewFanout validates cfg and returns a Fanout (not started).
func NewFanout(cfg FanoutConfig) (*Fanout, error) {
	if cfg.Store == nil {
		return nil, errors.New("webhooks: fanout store is required")
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = DefaultPollInterval
	}
	if cfg.BatchSize <= 0 {
		cfg.BatchSize = DefaultFanoutBatch
	}
	if cfg.IdleAdvance <= 0 {
		cfg.IdleAdvance = DefaultIdleAdvance
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Fanout{cfg: cfg, log: cfg.Logger.With("component", "webhooks.fanout"), kick: make(chan struct{}, 1)}, nil
}

// StepResult is what one fan-out step did (the fields of
// store.FanOutResult).
type StepResult struct {
	// Locked is false when no subscription is active or another replica
	// holds the cursor.
	Locked     bool
	Read       int
	Deliveries int
}

// Step runs one fan-out step: lock the cursor, read the next feed rows,
// insert their deliveries, move the cursor (store.WebhookCursorQuery.FanOut;
// see the package doc).
func (f *Fanout) Step(ctx context.Context) (StepResult, error) {
	r, err := f.cfg.Store.WebhookCursor().FanOut(ctx, f.cfg.BatchSize)
	if err != nil {
		return StepResult(r), fmt.Errorf("webhooks fanout: %w", err)
	}
	return StepResult(r), nil
}

// Nudge asks for a step now (rows were just written).
func (f *Fanout) Nudge() {
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// Start checks the database answers, then fans out in the background
// (startstop: Stop — or the end of ctx — ends the loop, a step in progress is
// cancelled and rolls back, and waits for it; idempotent, restartable).
func (f *Fanout) Start(ctx context.Context) error {
	return f.StartFunc(ctx, func(ctx context.Context) error {
		if err := f.cfg.Store.Ping(ctx); err != nil {
			return fmt.Errorf("webhooks fanout start: %w", err)
		}
		return nil
	}, f.loop)
}

func (f *Fanout) loop(ctx context.Context) {
	timer := time.NewTimer(0)
	defer timer.Stop()
	var failures int
	for {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		case <-f.kick:
		}
		wait := f.cfg.PollInterval
		res, err := f.Step(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			failures++
			wait = backoff(failures, f.cfg.PollInterval, 30*time.Second)
			f.log.Warn("fan-out step failed", "error", err, "attempt", failures, "retry_in", wait.String())
		default:
			failures = 0
			if res.Deliveries > 0 && f.cfg.OnDeliveriesFunc != nil {
				f.cfg.OnDeliveriesFunc()
			}
			if res.Read >= f.cfg.BatchSize {
				wait = 0 // more feed waiting: no pause
			}
			if !res.Locked && time.Since(f.lastIdle) >= f.cfg.IdleAdvance {
				f.lastIdle = time.Now()
				if err := f.cfg.Store.WebhookCursor().AdvanceIdle(ctx); err != nil && ctx.Err() == nil {
					f.log.Warn("advance idle fan-out cursor", "error", err)
				}
			}
		}
		if !timer.Stop() {
			select {
			case <-timer.C:
			default:
			}
		}
		timer.Reset(wait)
	}
}
