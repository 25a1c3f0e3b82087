-- Observability: what the alert engine keeps beyond 0002, running storage totals, a
-- cache of closed days for the metrics series, and the indexes the metrics, health
-- checks and alert rules read (each query's plan is checked by a test on a large table).

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

-- Jobs finished in a window by status: error analysis, training timeouts, the daily
-- summary, the daily series of completions and training time.
CREATE INDEX IF NOT EXISTS training_jobs_status_completed_idx ON training_jobs (status, completed_at)
  INCLUDE (error_type, started_at) WHERE completed_at IS NOT NULL;
-- Stuck jobs: running since before a time.
CREATE INDEX IF NOT EXISTS training_jobs_running_started_idx ON training_jobs (started_at) WHERE status = 'running';
-- The largest live datasets.
CREATE INDEX IF NOT EXISTS datasets_live_size_idx ON datasets (file_size) WHERE deleted_at IS NULL;
-- Model bytes added per day, deleted since or not (the 0001 index covers live models only).
CREATE INDEX IF NOT EXISTS model_artifacts_created_idx ON model_artifacts (created_at);

-- A model's stored bytes as seed 000 counts them (lora_adapter_size + full_model_size);
-- a size that is not a whole number of bytes counts as 0 instead of failing.
CREATE OR REPLACE FUNCTION lora_ops.artifact_bytes(a jsonb) RETURNS bigint LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT CASE WHEN a->>'lora_adapter_size' ~ '^[0-9]{1,18}$' THEN (a->>'lora_adapter_size')::bigint ELSE 0 END
       + CASE WHEN a->>'full_model_size' ~ '^[0-9]{1,18}$' THEN (a->>'full_model_size')::bigint ELSE 0 END
$$;

-- Running totals of live (not deleted) datasets and models: bytes, rows, and ready
-- datasets. Summing a million artifacts on every `lora health` and every alert
-- evaluation would read the whole table; statement triggers keep these exact instead,
-- one update per statement whatever its row count.
CREATE TABLE IF NOT EXISTS lora_ops.storage_totals (
  kind       text PRIMARY KEY CHECK (kind IN ('datasets', 'models')),
  bytes      bigint NOT NULL DEFAULT 0,
  live       bigint NOT NULL DEFAULT 0,
  ready      bigint NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- Recounts both totals from the tables: run at migration, after a TRUNCATE, and by
-- hand should they ever be doubted (SELECT lora_ops.recount_storage_totals()).
CREATE OR REPLACE FUNCTION lora_ops.recount_storage_totals() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO lora_ops.storage_totals (kind, bytes, live, ready, updated_at)
  SELECT 'datasets', coalesce(sum(file_size), 0), count(*), count(*) FILTER (WHERE status = 'ready'), now()
    FROM datasets WHERE deleted_at IS NULL
  ON CONFLICT (kind) DO UPDATE SET bytes = EXCLUDED.bytes, live = EXCLUDED.live, ready = EXCLUDED.ready, updated_at = EXCLUDED.updated_at;
  INSERT INTO lora_ops.storage_totals (kind, bytes, live, ready, updated_at)
  SELECT 'models', coalesce(sum(lora_ops.artifact_bytes(artifacts)), 0), count(*), 0, now()
    FROM model_artifacts WHERE deleted_at IS NULL
  ON CONFLICT (kind) DO UPDATE SET bytes = EXCLUDED.bytes, live = EXCLUDED.live, ready = EXCLUDED.ready, updated_at = EXCLUDED.updated_at;
END
$$;

CREATE OR REPLACE FUNCTION lora_ops.track_dataset_totals() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  d_bytes bigint := 0;
  d_live bigint := 0;
  d_ready bigint := 0;
  b bigint;
  l bigint;
  r bigint;
BEGIN
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    SELECT coalesce(sum(file_size), 0), count(*), count(*) FILTER (WHERE status = 'ready') INTO b, l, r
      FROM new_rows WHERE deleted_at IS NULL;
    d_bytes := d_bytes + b; d_live := d_live + l; d_ready := d_ready + r;
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    SELECT coalesce(sum(file_size), 0), count(*), count(*) FILTER (WHERE status = 'ready') INTO b, l, r
      FROM old_rows WHERE deleted_at IS NULL;
    d_bytes := d_bytes - b; d_live := d_live - l; d_ready := d_ready - r;
  END IF;
  IF d_bytes <> 0 OR d_live <> 0 OR d_ready <> 0 THEN
    UPDATE lora_ops.storage_totals
       SET bytes = bytes + d_bytes, live = live + d_live, ready = ready + d_ready, updated_at = now()
     WHERE kind = 'datasets';
  END IF;
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION lora_ops.track_model_totals() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  d_bytes bigint := 0;
  d_live bigint := 0;
  b bigint;
  l bigint;
BEGIN
  IF TG_OP IN ('INSERT', 'UPDATE') THEN
    SELECT coalesce(sum(lora_ops.artifact_bytes(artifacts)), 0), count(*) INTO b, l FROM new_rows WHERE deleted_at IS NULL;
    d_bytes := d_bytes + b; d_live := d_live + l;
  END IF;
  IF TG_OP IN ('UPDATE', 'DELETE') THEN
    SELECT coalesce(sum(lora_ops.artifact_bytes(artifacts)), 0), count(*) INTO b, l FROM old_rows WHERE deleted_at IS NULL;
    d_bytes := d_bytes - b; d_live := d_live - l;
  END IF;
  IF d_bytes <> 0 OR d_live <> 0 THEN
    UPDATE lora_ops.storage_totals SET bytes = bytes + d_bytes, live = live + d_live, updated_at = now() WHERE kind = 'models';
  END IF;
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION lora_ops.recount_storage_totals_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM lora_ops.recount_storage_totals();
  RETURN NULL;
END
$$;

-- Writers wait while the totals are counted and the triggers put in place, so that
-- no row is missed between the two.
LOCK TABLE datasets, model_artifacts IN SHARE MODE;
DROP TRIGGER IF EXISTS datasets_totals_insert ON datasets;
DROP TRIGGER IF EXISTS datasets_totals_update ON datasets;
DROP TRIGGER IF EXISTS datasets_totals_delete ON datasets;
DROP TRIGGER IF EXISTS datasets_totals_truncate ON datasets;
CREATE TRIGGER datasets_totals_insert AFTER INSERT ON datasets REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION lora_ops.track_dataset_totals();
CREATE TRIGGER datasets_totals_update AFTER UPDATE ON datasets REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION lora_ops.track_dataset_totals();
CREATE TRIGGER datasets_totals_delete AFTER DELETE ON datasets REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION lora_ops.track_dataset_totals();
CREATE TRIGGER datasets_totals_truncate AFTER TRUNCATE ON datasets
  FOR EACH STATEMENT EXECUTE FUNCTION lora_ops.recount_storage_totals_trigger();
DROP TRIGGER IF EXISTS model_artifacts_totals_insert ON model_artifacts;
DROP TRIGGER IF EXISTS model_artifacts_totals_update ON model_artifacts;
DROP TRIGGER IF EXISTS model_artifacts_totals_delete ON model_artifacts;
DROP TRIGGER IF EXISTS model_artifacts_totals_truncate ON model_artifacts;
CREATE TRIGGER model_artifacts_totals_insert AFTER INSERT ON model_artifacts REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION lora_ops.track_model_totals();
CREATE TRIGGER model_artifacts_totals_update AFTER UPDATE ON model_artifacts REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION lora_ops.track_model_totals();
CREATE TRIGGER model_artifacts_totals_delete AFTER DELETE ON model_artifacts REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION lora_ops.track_model_totals();
CREATE TRIGGER model_artifacts_totals_truncate AFTER TRUNCATE ON model_artifacts
  FOR EACH STATEMENT EXECUTE FUNCTION lora_ops.recount_storage_totals_trigger();
SELECT lora_ops.recount_storage_totals();

-- The daily series (jobs, cost, storage) of days closed for more than an hour: what
-- happened on a past day does not change (jobs by created_at and completed_at, costs
-- by recorded_at, storage by created_at), so each is aggregated once and read back.
CREATE TABLE IF NOT EXISTS lora_ops.metrics_daily (
  metric      text NOT NULL CHECK (metric IN ('jobs', 'cost', 'storage')),
  day         date NOT NULL,
  data        jsonb NOT NULL,
  computed_at timestamptz NOT NULL,
  PRIMARY KEY (metric, day)
);
