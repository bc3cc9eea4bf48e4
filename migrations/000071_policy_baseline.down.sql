-- Why: undo 000071 (the policy baseline zapbase doctor compares with).
BEGIN;
DROP FUNCTION IF EXISTS wa.record_policy_baseline();
DROP TABLE IF EXISTS wa.policy_baseline;
COMMIT;
