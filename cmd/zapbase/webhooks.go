package main

import (
	"context"
	"fmt"

	"github.com/zapbase/zapbase/api"
	"github.com/zapbase/zapbase/metrics"
	"github.com/zapbase/zapbase/webhooks"
)

// wireWebhooks builds the outgoing webhooks (issue 21): the API's
// subscription store always; with ZAPBASE_WEBHOOKS (default on) also the
// delivery worker, then the fan-out that nudges it, queued to start in
// that order.
func (m *Main) wireWebhooks(ctx context.Context) error {
	c := m.cfg.Webhooks
	m.apiRegisters = append(m.apiRegisters, api.WebhookSubscriptionRoutes(webhooks.NewStore(m.store, m.box, c.AllowPrivate)))
	if !c.Enabled {
		m.log.Warn("ZAPBASE_WEBHOOKS=false: outgoing webhooks are not fanned out nor delivered by this replica")
		return nil
	}
	log := m.log
	deliverer, err := webhooks.NewDeliverer(webhooks.DelivererConfig{
		Store:           m.store,
		Box:             m.box,
		Owner:           m.cfg.InstanceID + "/" + randomHex(4),
		Workers:         c.Workers,
		PerSubscription: c.SubConcurrency,
		RetryFor:        c.RetryFor,
		BaseDelay:       c.RetryBaseDelay,
		MaxDelay:        c.RetryMaxDelay,
		Client: webhooks.NewClient(webhooks.ClientConfig{Policy: c.AllowPrivate,
			ConnectTimeout: c.ConnectTimeout, Timeout: c.Timeout}),
		Observer: m.metrics,
		Logger:   log,
	})
	if err != nil {
		return fmt.Errorf("webhooks: %w", err)
	}
	fanout, err := webhooks.NewFanout(webhooks.FanoutConfig{
		Store:            m.store,
		PollInterval:     c.PollInterval,
		OnDeliveriesFunc: deliverer.Nudge,
		Logger:           log,
	})
	if err != nil {
		return fmt.Errorf("webhooks: %w", err)
	}
	m.add("webhook deliverer", deliverer)
	m.add("webhook fan-out", fanout)
	return nil
}

// The metrics count webhook attempts.
var _ webhooks.Observer = (*metrics.Metrics)(nil)
