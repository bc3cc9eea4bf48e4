-- Why: WhatsApp messages change after they arrive. (1) A message the device
-- could not decrypt yet ("aguardando mensagem") becomes a row of type
-- 'undecryptable' that is updated in place when the retry brings the real
-- content. (2) Edits (inbound, including the SecretEncryptedMessage form, and
-- outbound via the API) update the row's content, set edited_at and keep
-- every earlier version in edit_history. (3) A message deleted for everyone
-- keeps its row with revoked_at set. Each is an UPDATE of the row, so it
-- reaches the frontend through Realtime like a status change. These columns
-- are written by zapbase only (client grants are issue 15's).
BEGIN;

ALTER TABLE public.messages DROP CONSTRAINT messages_message_type_check;
ALTER TABLE public.messages ADD CONSTRAINT messages_message_type_check CHECK (message_type IN (
  'text', 'image', 'video', 'audio', 'voice', 'document', 'sticker', 'location',
  'contacts', 'template', 'interactive', 'reaction', 'read_mark', 'system', 'unsupported', 'undecryptable'));

ALTER TABLE public.messages
  ADD COLUMN edited_at    timestamptz,
  ADD COLUMN edit_history jsonb NOT NULL DEFAULT '[]'::jsonb,
  ADD COLUMN revoked_at   timestamptz;
COMMENT ON COLUMN public.messages.edit_history IS
  'Earlier versions of the content, oldest first: [{"content": {...}, "until": "<time it was replaced>"}]; written by zapbase only.';

COMMIT;
