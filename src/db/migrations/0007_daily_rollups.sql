-- The closed days of the series `lora metrics` draws (jobs created and finished, cost,
-- model bytes added), by UTC day. The first call of a 30-day window aggregated a month
-- of training_jobs, cost_records and model_artifacts (30 to 240 ms at a million jobs);
-- these rollups hold one row per day, kept exact by triggers on the tables they sum
-- (whatever statement writes them: a completion, a cancel, a month's split, a job or
-- artifact deleted), so a month is 30 rows. The live part of a series (today, hourly
-- buckets) still reads the tables: a day of rows. Counted again from the tables at
-- migration and after a TRUNCATE, and by hand should they ever be doubted
-- (SELECT lora_ops.recount_daily_rollups()).

-- The UTC day of an instant: the rollups' key, and the day buckets of the series.
CREATE OR REPLACE FUNCTION lora_ops.utc_day(at timestamptz) RETURNS date
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT (at AT TIME ZONE 'UTC')::date $$;

-- training_jobs created, by the day of created_at, and finished (completed or failed),
-- by the day of completed_at, with the training time of the completed ones that
-- started (numeric: the sum is exact).
CREATE TABLE IF NOT EXISTS lora_ops.jobs_daily (
  day              date PRIMARY KEY,
  created          bigint NOT NULL DEFAULT 0,
  completed        bigint NOT NULL DEFAULT 0,
  failed           bigint NOT NULL DEFAULT 0,
  training_seconds numeric NOT NULL DEFAULT 0,
  trained          bigint NOT NULL DEFAULT 0,
  updated_at       timestamptz NOT NULL DEFAULT now()
);

-- cost_records by the day of recorded_at: the sum, the records, and the distinct jobs.
CREATE TABLE IF NOT EXISTS lora_ops.cost_daily (
  day        date PRIMARY KEY,
  total_cost numeric NOT NULL DEFAULT 0,
  records    bigint NOT NULL DEFAULT 0,
  jobs       bigint NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- model_artifacts' bytes (lora_ops.artifact_bytes) by the day of created_at, deleted
-- since or not.
CREATE TABLE IF NOT EXISTS lora_ops.model_bytes_daily (
  day        date PRIMARY KEY,
  bytes      bigint NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now()
);

-- What one job adds to the days: its creation, and its end if it finished.
CREATE OR REPLACE FUNCTION lora_ops.job_days(created_at timestamptz, status text, started_at timestamptz, completed_at timestamptz)
  RETURNS TABLE (day date, created int, completed int, failed int, seconds numeric, trained int)
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
  SELECT lora_ops.utc_day(created_at), 1, 0, 0, 0::numeric, 0 WHERE created_at IS NOT NULL
  UNION ALL
  SELECT lora_ops.utc_day(completed_at), 0, (status = 'completed')::int, (status = 'failed')::int,
         CASE WHEN status = 'completed' AND started_at IS NOT NULL THEN extract(epoch FROM (completed_at - started_at)) ELSE 0 END,
         (status = 'completed' AND started_at IS NOT NULL)::int
   WHERE status IN ('completed', 'failed') AND completed_at IS NOT NULL
$$;

CREATE OR REPLACE FUNCTION lora_ops.recount_daily_rollups() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM lora_ops.jobs_daily;
  INSERT INTO lora_ops.jobs_daily (day, created, completed, failed, training_seconds, trained)
  SELECT f.day, sum(f.created), sum(f.completed), sum(f.failed), sum(f.seconds), sum(f.trained)
    FROM training_jobs j CROSS JOIN LATERAL lora_ops.job_days(j.created_at, j.status, j.started_at, j.completed_at) f GROUP BY f.day;
  DELETE FROM lora_ops.cost_daily;
  INSERT INTO lora_ops.cost_daily (day, total_cost, records, jobs)
  SELECT lora_ops.utc_day(recorded_at), sum(amount), count(*), count(DISTINCT job_id) FROM cost_records GROUP BY 1;
  DELETE FROM lora_ops.model_bytes_daily;
  INSERT INTO lora_ops.model_bytes_daily (day, bytes)
  SELECT lora_ops.utc_day(created_at), sum(lora_ops.artifact_bytes(artifacts)) FROM model_artifacts WHERE created_at IS NOT NULL GROUP BY 1;
END
$$;

-- Inserted and deleted jobs, by statement (a bulk insert pays one aggregate), with
-- static statements so that their plans are kept: a submission adds one to its day.
CREATE OR REPLACE FUNCTION lora_ops.track_jobs_daily() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'INSERT' THEN
    INSERT INTO lora_ops.jobs_daily AS t (day, created, completed, failed, training_seconds, trained)
    SELECT f.day, sum(f.created), sum(f.completed), sum(f.failed), sum(f.seconds), sum(f.trained)
      FROM new_rows c CROSS JOIN LATERAL lora_ops.job_days(c.created_at, c.status, c.started_at, c.completed_at) f
     GROUP BY f.day ORDER BY f.day
    ON CONFLICT (day) DO UPDATE
       SET created = t.created + EXCLUDED.created, completed = t.completed + EXCLUDED.completed, failed = t.failed + EXCLUDED.failed,
           training_seconds = t.training_seconds + EXCLUDED.training_seconds, trained = t.trained + EXCLUDED.trained,
           updated_at = now();
  ELSE
    INSERT INTO lora_ops.jobs_daily AS t (day, created, completed, failed, training_seconds, trained)
    SELECT f.day, -sum(f.created), -sum(f.completed), -sum(f.failed), -sum(f.seconds), -sum(f.trained)
      FROM old_rows c CROSS JOIN LATERAL lora_ops.job_days(c.created_at, c.status, c.started_at, c.completed_at) f
     GROUP BY f.day ORDER BY f.day
    ON CONFLICT (day) DO UPDATE
       SET created = t.created + EXCLUDED.created, completed = t.completed + EXCLUDED.completed, failed = t.failed + EXCLUDED.failed,
           training_seconds = t.training_seconds + EXCLUDED.training_seconds, trained = t.trained + EXCLUDED.trained,
           updated_at = now();
  END IF;
  RETURN NULL;
END
$$;

-- An updated job, by row: only a row whose creation moved, or whose status, start or
-- end changed while finished before or after, reaches it (the trigger's WHEN), so the
-- daemon's polls and claims never call it; a completion writes its day once.
CREATE OR REPLACE FUNCTION lora_ops.move_job_days() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO lora_ops.jobs_daily AS t (day, created, completed, failed, training_seconds, trained)
  SELECT f.day, sum(c.n * f.created), sum(c.n * f.completed), sum(c.n * f.failed), sum(c.n * f.seconds), sum(c.n * f.trained)
    FROM (VALUES (OLD.created_at, OLD.status, OLD.started_at, OLD.completed_at, -1),
                 (NEW.created_at, NEW.status, NEW.started_at, NEW.completed_at, 1)) c(created_at, status, started_at, completed_at, n)
   CROSS JOIN LATERAL lora_ops.job_days(c.created_at, c.status, c.started_at, c.completed_at) f
   GROUP BY f.day
  HAVING sum(c.n * f.created) <> 0 OR sum(c.n * f.completed) <> 0 OR sum(c.n * f.failed) <> 0
      OR sum(c.n * f.seconds) <> 0 OR sum(c.n * f.trained) <> 0
   ORDER BY f.day
  ON CONFLICT (day) DO UPDATE
     SET created = t.created + EXCLUDED.created, completed = t.completed + EXCLUDED.completed, failed = t.failed + EXCLUDED.failed,
         training_seconds = t.training_seconds + EXCLUDED.training_seconds, trained = t.trained + EXCLUDED.trained,
         updated_at = now();
  RETURN NULL;
END
$$;

-- As lora_ops.track_user_month_costs (0006), by day: the first statement applies the
-- sums and locks the touched days in order; the second, on a snapshot taken after those
-- locks, counts each job once per day against what committed meanwhile (present now,
-- less the rows the statement added, plus those it removed, is present before).
CREATE OR REPLACE FUNCTION lora_ops.track_cost_daily() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  changes text := lora_ops.transition_rows(TG_OP,
    'lora_ops.utc_day(recorded_at) AS day, job_id, amount',
    'lora_ops.utc_day(recorded_at) AS day, job_id, -amount AS amount');
BEGIN
  EXECUTE format($q$
    INSERT INTO lora_ops.cost_daily AS t (day, total_cost, records)
    SELECT day, sum(amount), sum(n) FROM (%s) c GROUP BY day ORDER BY day
    ON CONFLICT (day) DO UPDATE
       SET total_cost = t.total_cost + EXCLUDED.total_cost, records = t.records + EXCLUDED.records, updated_at = now()$q$, changes);
  EXECUTE format($q$
    UPDATE lora_ops.cost_daily t SET jobs = t.jobs + d.delta
      FROM (SELECT k.day, sum((p.now_n > 0)::int - (p.now_n - k.n > 0)::int) AS delta
              FROM (SELECT day, job_id, sum(n) AS n FROM (%s) c WHERE job_id IS NOT NULL GROUP BY 1, 2) k
              CROSS JOIN LATERAL (
                SELECT count(*) AS now_n FROM cost_records r
                 WHERE r.job_id = k.job_id
                   AND r.recorded_at >= (k.day::timestamp AT TIME ZONE 'UTC')
                   AND r.recorded_at < ((k.day + 1)::timestamp AT TIME ZONE 'UTC')) p
             GROUP BY k.day) d
     WHERE t.day = d.day AND d.delta <> 0$q$, changes);
  RETURN NULL;
END
$$;

-- By statement; an update that changes no artifact's size or day (a status, a path,
-- a retry count) writes nothing.
CREATE OR REPLACE FUNCTION lora_ops.track_model_bytes_daily() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format($q$
    INSERT INTO lora_ops.model_bytes_daily AS t (day, bytes)
    SELECT day, sum(bytes) FROM (%s) c WHERE day IS NOT NULL
     GROUP BY day HAVING sum(bytes) <> 0 ORDER BY day
    ON CONFLICT (day) DO UPDATE SET bytes = t.bytes + EXCLUDED.bytes, updated_at = now()$q$,
    lora_ops.transition_rows(TG_OP,
      'lora_ops.utc_day(created_at) AS day, lora_ops.artifact_bytes(artifacts) AS bytes',
      'lora_ops.utc_day(created_at) AS day, -lora_ops.artifact_bytes(artifacts) AS bytes'));
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION lora_ops.recount_daily_rollups_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM lora_ops.recount_daily_rollups();
  RETURN NULL;
END
$$;

-- Writers wait while the rollups are counted and the triggers put in place, so that no
-- row is missed between the two.
LOCK TABLE training_jobs, cost_records, model_artifacts IN SHARE MODE;
DROP TRIGGER IF EXISTS training_jobs_daily_insert ON training_jobs;
DROP TRIGGER IF EXISTS training_jobs_daily_update ON training_jobs;
DROP TRIGGER IF EXISTS training_jobs_daily_delete ON training_jobs;
DROP TRIGGER IF EXISTS training_jobs_daily_truncate ON training_jobs;
CREATE TRIGGER training_jobs_daily_insert AFTER INSERT ON training_jobs REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION lora_ops.track_jobs_daily();
CREATE TRIGGER training_jobs_daily_update AFTER UPDATE OF created_at, status, started_at, completed_at ON training_jobs
  FOR EACH ROW WHEN (OLD.created_at IS DISTINCT FROM NEW.created_at
                     OR ((OLD.status IN ('completed', 'failed') OR NEW.status IN ('completed', 'failed'))
                         AND (OLD.status IS DISTINCT FROM NEW.status OR OLD.started_at IS DISTINCT FROM NEW.started_at
                              OR OLD.completed_at IS DISTINCT FROM NEW.completed_at)))
  EXECUTE FUNCTION lora_ops.move_job_days();
CREATE TRIGGER training_jobs_daily_delete AFTER DELETE ON training_jobs REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION lora_ops.track_jobs_daily();
CREATE TRIGGER training_jobs_daily_truncate AFTER TRUNCATE ON training_jobs
  FOR EACH STATEMENT EXECUTE FUNCTION lora_ops.recount_daily_rollups_trigger();
DROP TRIGGER IF EXISTS cost_records_daily_insert ON cost_records;
DROP TRIGGER IF EXISTS cost_records_daily_update ON cost_records;
DROP TRIGGER IF EXISTS cost_records_daily_delete ON cost_records;
DROP TRIGGER IF EXISTS cost_records_daily_truncate ON cost_records;
CREATE TRIGGER cost_records_daily_insert AFTER INSERT ON cost_records REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION lora_ops.track_cost_daily();
CREATE TRIGGER cost_records_daily_update AFTER UPDATE ON cost_records REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION lora_ops.track_cost_daily();
CREATE TRIGGER cost_records_daily_delete AFTER DELETE ON cost_records REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION lora_ops.track_cost_daily();
CREATE TRIGGER cost_records_daily_truncate AFTER TRUNCATE ON cost_records
  FOR EACH STATEMENT EXECUTE FUNCTION lora_ops.recount_daily_rollups_trigger();
DROP TRIGGER IF EXISTS model_artifacts_daily_insert ON model_artifacts;
DROP TRIGGER IF EXISTS model_artifacts_daily_update ON model_artifacts;
DROP TRIGGER IF EXISTS model_artifacts_daily_delete ON model_artifacts;
DROP TRIGGER IF EXISTS model_artifacts_daily_truncate ON model_artifacts;
CREATE TRIGGER model_artifacts_daily_insert AFTER INSERT ON model_artifacts REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION lora_ops.track_model_bytes_daily();
CREATE TRIGGER model_artifacts_daily_update AFTER UPDATE ON model_artifacts REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION lora_ops.track_model_bytes_daily();
CREATE TRIGGER model_artifacts_daily_delete AFTER DELETE ON model_artifacts REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION lora_ops.track_model_bytes_daily();
CREATE TRIGGER model_artifacts_daily_truncate AFTER TRUNCATE ON model_artifacts
  FOR EACH STATEMENT EXECUTE FUNCTION lora_ops.recount_daily_rollups_trigger();
SELECT lora_ops.recount_daily_rollups();
