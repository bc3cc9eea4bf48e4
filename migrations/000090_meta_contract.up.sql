-- Why: the Meta Cloud API contract gaps of issue 18 need sidecar state that
-- Meta only tells us through webhooks:
--   * wa.meta_templates: the status (APPROVED, PAUSED, DISABLED…), quality
--     and category of each template, from message_template_status_update,
--     message_template_quality_update, template_category_update and the
--     pricing category of sent templates, so a paused or disabled template
--     is refused before a send fails;
--   * wa.meta_opt_outs: marketing opt-outs (user_preferences stop/resume,
--     and failed sends with 131050), honoured before a marketing template;
--   * wa.meta_unrouted_webhooks: signed-or-not deliveries that name no
--     number or WABA we know, acknowledged (Meta retries a non-200 for 7
--     days) and counted here instead of being stored whole;
--   * public.messages.pricing: the pricing/conversation of each outbound
--     message from its status webhooks (cost per category per tenant;
--     written by the sidecar only);
--   * wa.meta_contacts.parent_bsuid: the parent business-scoped user id,
--     so one contact keeps one identity across linked portfolios.
BEGIN;

CREATE TABLE wa.meta_templates (
  waba_id       text NOT NULL,
  name          text NOT NULL,
  language      text NOT NULL,
  template_id   text,
  status        text,
  status_reason text,
  -- When the status last changed (a PAUSED template unpauses by itself).
  status_at     timestamptz,
  quality       text,
  category      text,
  updated_at    timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (waba_id, name, language)
);

CREATE TABLE wa.meta_opt_outs (
  tenant_id   uuid NOT NULL REFERENCES public.tenants(id) ON DELETE CASCADE,
  session_id  uuid NOT NULL REFERENCES public.whatsapp_sessions(id) ON DELETE CASCADE,
  -- wa_id or BSUID as Meta named the customer.
  contact     text NOT NULL,
  category    text NOT NULL,
  opted_out   boolean NOT NULL,
  detail      text,
  changed_at  timestamptz NOT NULL,
  updated_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, session_id, contact, category)
);

CREATE TABLE wa.meta_unrouted_webhooks (
  entry_id      text NOT NULL,
  field         text NOT NULL,
  event         text NOT NULL DEFAULT '',
  deliveries    bigint NOT NULL DEFAULT 1,
  bytes         bigint NOT NULL DEFAULT 0,
  first_seen_at timestamptz NOT NULL DEFAULT now(),
  last_seen_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (entry_id, field, event)
);
CREATE INDEX meta_unrouted_webhooks_last_seen_idx ON wa.meta_unrouted_webhooks (last_seen_at);

ALTER TABLE public.messages ADD COLUMN pricing jsonb;
COMMENT ON COLUMN public.messages.pricing IS
  'Meta Cloud API pricing of an outbound message (status webhooks): category, type, pricing_model, billable, conversation. Written by the sidecar.';

ALTER TABLE wa.meta_contacts ADD COLUMN parent_bsuid text;
CREATE INDEX meta_contacts_parent_bsuid_idx ON wa.meta_contacts (tenant_id, session_id, parent_bsuid)
  WHERE parent_bsuid IS NOT NULL;

REVOKE ALL ON wa.meta_templates, wa.meta_opt_outs, wa.meta_unrouted_webhooks FROM PUBLIC, anon, authenticated;

COMMIT;
