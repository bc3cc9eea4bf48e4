-- Why: reverts polls as message types and the per-session settings; poll
-- rows are kept as 'unsupported' so no message is lost.
BEGIN;
DROP TABLE IF EXISTS wa.session_settings;
DROP INDEX IF EXISTS public.messages_poll_votes_idx;
ALTER TABLE public.messages DROP CONSTRAINT messages_message_type_check;
UPDATE public.messages SET message_type = 'unsupported' WHERE message_type IN ('poll', 'poll_vote');
ALTER TABLE public.messages ADD CONSTRAINT messages_message_type_check CHECK (message_type IN (
  'text', 'image', 'video', 'audio', 'voice', 'document', 'sticker', 'location',
  'contacts', 'template', 'interactive', 'reaction', 'read_mark', 'system', 'unsupported', 'undecryptable'));
COMMIT;
