-- Why: undo 000010 (insertion sequence of messages).
BEGIN;
ALTER TABLE public.messages DROP COLUMN IF EXISTS seq;
COMMIT;
