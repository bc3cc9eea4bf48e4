BEGIN;
ALTER TABLE public.messages DROP COLUMN IF EXISTS revoked_at, DROP COLUMN IF EXISTS edit_history, DROP COLUMN IF EXISTS edited_at;
UPDATE public.messages SET message_type = 'unsupported' WHERE message_type = 'undecryptable';
ALTER TABLE public.messages DROP CONSTRAINT messages_message_type_check;
ALTER TABLE public.messages ADD CONSTRAINT messages_message_type_check CHECK (message_type IN (
  'text', 'image', 'video', 'audio', 'voice', 'document', 'sticker', 'location',
  'contacts', 'template', 'interactive', 'reaction', 'read_mark', 'system', 'unsupported'));
COMMIT;
