-- Observability: what the alert engine keeps beyond 0002, and the indexes that serve
-- the metrics, health checks and alert rules (each query's plan is checked by a test
-- on a large table).

-- Alert state. A rule with a hold time ("queue > 50 for 30 min") is pending from the
-- moment its condition holds (active_since) until it fires; a pending alert has not
-- fired, so first_fired_at may be empty. notified_severity is the severity of the last
-- notification sent (an escalation notifies again); source tells the rules evaluated
-- from the database from the alerts the daemon raises (database errors, cleanup
-- failures), which resolve when they stop being raised.
ALTER TABLE lora_ops.alert_state DROP CONSTRAINT IF EXISTS alert_state_status_check;
ALTER TABLE lora_ops.alert_state ADD CONSTRAINT alert_state_status_check CHECK (status IN ('pending', 'firing', 'resolved'));
ALTER TABLE lora_ops.alert_state ALTER COLUMN first_fired_at DROP NOT NULL;
ALTER TABLE lora_ops.alert_state ADD COLUMN IF NOT EXISTS active_since timestamptz;
ALTER TABLE lora_ops.alert_state ADD COLUMN IF NOT EXISTS notified_severity text;
ALTER TABLE lora_ops.alert_state ADD COLUMN IF NOT EXISTS source text NOT NULL DEFAULT 'rule';
ALTER TABLE lora_ops.alert_state DROP CONSTRAINT IF EXISTS alert_state_source_check;
ALTER TABLE lora_ops.alert_state ADD CONSTRAINT alert_state_source_check CHECK (source IN ('rule', 'pushed'));
ALTER TABLE lora_ops.alert_state ADD COLUMN IF NOT EXISTS notifications integer NOT NULL DEFAULT 0;
CREATE INDEX IF NOT EXISTS alert_state_resolved_at_idx ON lora_ops.alert_state (resolved_at) WHERE status = 'resolved';
CREATE INDEX IF NOT EXISTS alert_silences_rule_idx ON lora_ops.alert_silences (rule, until);

-- Jobs: created in a window, by status and user (success and failure rates, jobs per
-- day, top users) read from the index alone.
CREATE INDEX IF NOT EXISTS training_jobs_created_cover_idx ON training_jobs (created_at) INCLUDE (status, user_id);
-- Jobs finished in a window by status: error analysis, training timeouts, average
-- training duration, the daily summary.
CREATE INDEX IF NOT EXISTS training_jobs_status_completed_idx ON training_jobs (status, completed_at)
  INCLUDE (error_type, started_at) WHERE completed_at IS NOT NULL;
-- Stuck jobs: running since before a time.
CREATE INDEX IF NOT EXISTS training_jobs_running_started_idx ON training_jobs (started_at) WHERE status = 'running';

-- Cost in a window (daily cost, cost per user, most expensive jobs, month to date)
-- read from the index alone.
CREATE INDEX IF NOT EXISTS cost_records_recorded_cover_idx ON cost_records (recorded_at) INCLUDE (amount, job_id, user_id);

-- Storage: the live datasets' sizes (the total, the largest files).
CREATE INDEX IF NOT EXISTS datasets_live_size_idx ON datasets (file_size) WHERE deleted_at IS NULL;

-- A model's stored bytes (seed 000: lora_adapter_size + full_model_size), as a column
-- so that the total is summed from an index; a size that is not a whole number of
-- bytes counts as 0 rather than failing the row's insert.
ALTER TABLE model_artifacts ADD COLUMN IF NOT EXISTS stored_bytes bigint GENERATED ALWAYS AS (
  CASE WHEN artifacts->>'lora_adapter_size' ~ '^[0-9]{1,18}$' THEN (artifacts->>'lora_adapter_size')::bigint ELSE 0 END
  + CASE WHEN artifacts->>'full_model_size' ~ '^[0-9]{1,18}$' THEN (artifacts->>'full_model_size')::bigint ELSE 0 END
) STORED;
CREATE INDEX IF NOT EXISTS model_artifacts_live_size_idx ON model_artifacts (stored_bytes) WHERE deleted_at IS NULL;
