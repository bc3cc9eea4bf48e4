-- Why: dispatch keeps messages of one chat in insertion order. created_at is
-- the transaction start time, so rows inserted by one statement or one
-- transaction (send-bulk, a supabase-js insert of several rows) tie on it;
-- an identity column gives every row its insertion position.
BEGIN;
ALTER TABLE public.messages ADD COLUMN seq bigint GENERATED ALWAYS AS IDENTITY;
COMMIT;
