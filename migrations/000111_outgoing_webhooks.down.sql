-- Why: undo 000111 (outgoing webhooks); deliveries and subscriptions are lost.
BEGIN;
DROP TABLE wa.webhook_deliveries;
DROP TABLE wa.webhook_cursor;
DROP TABLE wa.webhook_subscriptions;
COMMIT;
