package dispatch

import (
	"errors"
	"time"

	"github.com/zapbase/zapbase"
	"github.com/zapbase/zapbase/providers"
)

// Observer receives the dispatcher's measurements. *metrics.Metrics
// implements it; nil records nothing. Labels are bounded by the
// implementation: tenant is the tenant UUID, provider the API name
// (baileys, meta_api, sandbox).
type Observer interface {
	// SendAccepted: the provider accepted a send; sinceInsert is the time
	// from the row's created_at to the acceptance.
	SendAccepted(tenant, provider string, sinceInsert time.Duration)
	// SendFailed: the row ended failed (permanent error, retries
	// exhausted, nothing able to send it).
	SendFailed(tenant, provider string)
	// SendRetried: the row went back to pending after a provider error of
	// the given class (ErrorClass).
	SendRetried(tenant, provider, class string)
	// SendAmbiguous: the send may or may not have reached the channel.
	SendAmbiguous(tenant, provider string)
	// ProviderRouted: a row asking for provider requested (auto included)
	// is sent through provider.
	ProviderRouted(requested, provider string)
	SetDispatchQueueDepth(n int)
	SetDispatchInFlight(n int)
	// Wakeup counts rows the dispatcher was woken up for, by source
	// (listener, webhook, reconcile).
	Wakeup(source string, rows int)
	// ReconcileFound counts rows the reconciliation scan claimed, by kind
	// (pending: never claimed; sending: an expired claim recovered).
	ReconcileFound(kind string, rows int)
}

// Wake-up sources and reconciliation kinds reported to the Observer.
const (
	sourceListener = "listener"
	// sourceListenerRetry: rows claimed on a retry because the change
	// stream announced them before they were visible.
	sourceListenerRetry = "listener_retry"
	sourceWebhook       = "webhook"
	sourceReconcile     = "reconcile"
	foundPending        = "pending"
	foundSending        = "sending"
)

type nopObserver struct{}

func (nopObserver) SendAccepted(string, string, time.Duration) {}
func (nopObserver) SendFailed(string, string)                  {}
func (nopObserver) SendRetried(string, string, string)         {}
func (nopObserver) SendAmbiguous(string, string)               {}
func (nopObserver) ProviderRouted(string, string)              {}
func (nopObserver) SetDispatchQueueDepth(int)                  {}
func (nopObserver) SetDispatchInFlight(int)                    {}
func (nopObserver) Wakeup(string, int)                         {}
func (nopObserver) ReconcileFound(string, int)                 {}

// observeOutcome reports a send's outcome.
func (d *Dispatcher) observeOutcome(j *job, err error, out *outcome, now time.Time) {
	p := string(j.ptype)
	switch {
	case err == nil:
		d.obs.SendAccepted(j.tenantID, p, now.Sub(j.createdAt))
	case out.status == zapbase.StatusFailed:
		var am *providers.AmbiguousError
		if errors.As(err, &am) {
			d.obs.SendAmbiguous(j.tenantID, p)
		} else {
			d.obs.SendFailed(j.tenantID, p)
		}
	default:
		d.obs.SendRetried(j.tenantID, p, string(providers.ClassOf(err)))
	}
}

// observeQueue reports queue depth and in-flight calls; call with smu held.
func (d *Dispatcher) observeQueue() {
	inflight := int(d.inflight.Load())
	d.obs.SetDispatchInFlight(inflight)
	d.obs.SetDispatchQueueDepth(max(d.inMemory-inflight, 0))
}

// QueueDepth is the number of claimed messages held in memory (waiting for
// their chat, pacing or a worker, or being sent).
func (d *Dispatcher) QueueDepth() int { return d.queued() }
