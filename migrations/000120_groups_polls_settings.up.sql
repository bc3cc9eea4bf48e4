-- Why: what teams moving from Evolution API / GOWA use every day (issue 21).
-- Polls become first-class messages ('poll', and 'poll_vote' rows holding a
-- contact's decrypted vote, tied to the poll's row by content.pollVote.
-- pollRowId); per-session "instance settings" (reject calls, ignore groups
-- and broadcasts, always online, auto-read) live in the private schema: only
-- the sidecar reads and writes them, through the API's tenant checks.
BEGIN;

ALTER TABLE public.messages DROP CONSTRAINT messages_message_type_check;
ALTER TABLE public.messages ADD CONSTRAINT messages_message_type_check CHECK (message_type IN (
  'text', 'image', 'video', 'audio', 'voice', 'document', 'sticker', 'location',
  'contacts', 'template', 'interactive', 'reaction', 'read_mark', 'system', 'unsupported',
  'undecryptable', 'poll', 'poll_vote'));

-- The votes of one poll, for tallies (GET /messages/{id}/poll-votes).
CREATE INDEX messages_poll_votes_idx ON public.messages (tenant_id, ((content -> 'pollVote' ->> 'pollRowId')), created_at)
  WHERE message_type = 'poll_vote';

CREATE TABLE wa.session_settings (
  session_id          uuid PRIMARY KEY,
  tenant_id           uuid NOT NULL,
  reject_calls        boolean NOT NULL DEFAULT false,
  reject_call_message text CHECK (length(reject_call_message) <= 1024),
  ignore_groups       boolean NOT NULL DEFAULT false,
  ignore_broadcasts   boolean NOT NULL DEFAULT false,
  always_online       boolean NOT NULL DEFAULT false,
  auto_read           boolean NOT NULL DEFAULT false,
  updated_at          timestamptz NOT NULL DEFAULT now(),
  FOREIGN KEY (tenant_id, session_id) REFERENCES public.whatsapp_sessions (tenant_id, id) ON DELETE CASCADE
);
COMMENT ON TABLE wa.session_settings IS 'zapbase per-session instance settings (GET/PUT /api/v1/sessions/{phoneNumber}/settings).';
CREATE INDEX session_settings_tenant_idx ON wa.session_settings (tenant_id);

COMMIT;
