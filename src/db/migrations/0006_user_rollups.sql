-- The per-user figures of `lora metrics` (cost per user, the top users and their cost)
-- by calendar month (UTC). Aggregating a month of cost records and jobs at every call
-- takes ~90 ms at a million jobs; these rollups hold one row per user and month, kept
-- exact by statement triggers on the tables they sum (whatever statement writes them:
-- completion, failure, cancel, a month's split, a job deleted), so the top ten are an
-- index range. Counted again from the tables at migration and after a TRUNCATE, and by
-- hand should they ever be doubted (SELECT lora_ops.recount_user_rollups()).

-- The first day of the UTC month of an instant: the rollups' key, and the metrics' window.
CREATE OR REPLACE FUNCTION lora_ops.utc_month(at timestamptz) RETURNS date
  LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$ SELECT date_trunc('month', at AT TIME ZONE 'UTC')::date $$;

-- cost_records by the month of recorded_at: the sum, the records, and the distinct jobs.
CREATE TABLE IF NOT EXISTS lora_ops.user_month_costs (
  month      date NOT NULL,
  user_id    uuid NOT NULL,
  total_cost numeric NOT NULL DEFAULT 0,
  records    bigint NOT NULL DEFAULT 0,
  jobs       bigint NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (month, user_id)
);
CREATE INDEX IF NOT EXISTS user_month_costs_top_idx ON lora_ops.user_month_costs (month, total_cost DESC, user_id);

-- training_jobs by the month of created_at. Only the count: it changes when a job is
-- created or deleted, never when it changes state, so the daemon's updates pay nothing.
CREATE TABLE IF NOT EXISTS lora_ops.user_month_jobs (
  month      date NOT NULL,
  user_id    uuid NOT NULL,
  jobs       bigint NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (month, user_id)
);
CREATE INDEX IF NOT EXISTS user_month_jobs_top_idx ON lora_ops.user_month_jobs (month, jobs DESC, user_id);

CREATE OR REPLACE FUNCTION lora_ops.recount_user_rollups() RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM lora_ops.user_month_costs;
  INSERT INTO lora_ops.user_month_costs (month, user_id, total_cost, records, jobs)
  SELECT lora_ops.utc_month(recorded_at), user_id, sum(amount), count(*), count(DISTINCT job_id)
    FROM cost_records GROUP BY 1, 2;
  DELETE FROM lora_ops.user_month_jobs;
  INSERT INTO lora_ops.user_month_jobs (month, user_id, jobs)
  SELECT lora_ops.utc_month(created_at), user_id, count(*) FROM training_jobs GROUP BY 1, 2;
END
$$;

-- The rows a statement added (n = 1) and removed (n = -1), as a query over its transition
-- tables: an INSERT trigger has only the new, a DELETE only the old. Both column lists
-- name their columns, since either may come first.
CREATE OR REPLACE FUNCTION lora_ops.transition_rows(op text, columns text, negated text) RETURNS text
  LANGUAGE sql IMMUTABLE AS $$
  SELECT CASE op
    WHEN 'INSERT' THEN format('SELECT %s, 1 AS n FROM new_rows', columns)
    WHEN 'DELETE' THEN format('SELECT %s, -1 AS n FROM old_rows', negated)
    ELSE format('SELECT %s, 1 AS n FROM new_rows UNION ALL SELECT %s, -1 FROM old_rows', columns, negated)
  END
$$;

-- Two statements, on purpose. The first applies the sums and locks every touched row in
-- key order (writers of one user and month queue, and none deadlocks another); the
-- second, on a snapshot taken after those locks, counts distinct jobs against what
-- committed meanwhile: a job counts once per user and month, however many records it
-- has and whichever writer recorded the first. Per job, present now, and present before
-- the statement: now, less the rows it added, plus the rows it removed.
CREATE OR REPLACE FUNCTION lora_ops.track_user_month_costs() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  changes text := lora_ops.transition_rows(TG_OP,
    'lora_ops.utc_month(recorded_at) AS month, user_id, job_id, amount',
    'lora_ops.utc_month(recorded_at) AS month, user_id, job_id, -amount AS amount');
BEGIN
  EXECUTE format($q$
    INSERT INTO lora_ops.user_month_costs AS t (month, user_id, total_cost, records)
    SELECT month, user_id, sum(amount), sum(n) FROM (%s) c GROUP BY month, user_id ORDER BY month, user_id
    ON CONFLICT (month, user_id) DO UPDATE
       SET total_cost = t.total_cost + EXCLUDED.total_cost, records = t.records + EXCLUDED.records, updated_at = now()$q$, changes);
  EXECUTE format($q$
    UPDATE lora_ops.user_month_costs t SET jobs = t.jobs + d.delta
      FROM (SELECT k.month, k.user_id, sum((p.now_n > 0)::int - (p.now_n - k.n > 0)::int) AS delta
              FROM (SELECT month, user_id, job_id, sum(n) AS n FROM (%s) c WHERE job_id IS NOT NULL GROUP BY 1, 2, 3) k
              CROSS JOIN LATERAL (
                SELECT count(*) AS now_n FROM cost_records r
                 WHERE r.job_id = k.job_id AND r.user_id = k.user_id
                   AND r.recorded_at >= (k.month::timestamp AT TIME ZONE 'UTC')
                   AND r.recorded_at < ((k.month + interval '1 month')::timestamp AT TIME ZONE 'UTC')) p
             GROUP BY k.month, k.user_id) d
     WHERE t.month = d.month AND t.user_id = d.user_id AND d.delta <> 0$q$, changes);
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION lora_ops.track_user_month_jobs() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format($q$
    INSERT INTO lora_ops.user_month_jobs AS t (month, user_id, jobs)
    SELECT month, user_id, sum(n) FROM (%s) c
     GROUP BY month, user_id HAVING sum(n) <> 0 ORDER BY month, user_id
    ON CONFLICT (month, user_id) DO UPDATE SET jobs = t.jobs + EXCLUDED.jobs, updated_at = now()$q$,
    lora_ops.transition_rows(TG_OP, 'lora_ops.utc_month(created_at) AS month, user_id', 'lora_ops.utc_month(created_at) AS month, user_id'));
  RETURN NULL;
END
$$;

-- A job moved to another user or month: rare (no lora statement does it), so by row,
-- only for the rows whose key changed (transition tables take no column list).
CREATE OR REPLACE FUNCTION lora_ops.move_user_month_job() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO lora_ops.user_month_jobs AS t (month, user_id, jobs)
  SELECT month, user_id, sum(n) FROM (VALUES (lora_ops.utc_month(OLD.created_at), OLD.user_id, -1),
                                             (lora_ops.utc_month(NEW.created_at), NEW.user_id, 1)) c(month, user_id, n)
   GROUP BY month, user_id HAVING sum(n) <> 0 ORDER BY month, user_id
  ON CONFLICT (month, user_id) DO UPDATE SET jobs = t.jobs + EXCLUDED.jobs, updated_at = now();
  RETURN NULL;
END
$$;

CREATE OR REPLACE FUNCTION lora_ops.recount_user_rollups_trigger() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM lora_ops.recount_user_rollups();
  RETURN NULL;
END
$$;

-- Writers wait while the rollups are counted and the triggers put in place, so that no
-- row is missed between the two.
LOCK TABLE cost_records, training_jobs IN SHARE MODE;
DROP TRIGGER IF EXISTS cost_records_user_month_insert ON cost_records;
DROP TRIGGER IF EXISTS cost_records_user_month_update ON cost_records;
DROP TRIGGER IF EXISTS cost_records_user_month_delete ON cost_records;
DROP TRIGGER IF EXISTS cost_records_user_month_truncate ON cost_records;
CREATE TRIGGER cost_records_user_month_insert AFTER INSERT ON cost_records REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION lora_ops.track_user_month_costs();
CREATE TRIGGER cost_records_user_month_update AFTER UPDATE ON cost_records REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION lora_ops.track_user_month_costs();
CREATE TRIGGER cost_records_user_month_delete AFTER DELETE ON cost_records REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION lora_ops.track_user_month_costs();
CREATE TRIGGER cost_records_user_month_truncate AFTER TRUNCATE ON cost_records
  FOR EACH STATEMENT EXECUTE FUNCTION lora_ops.recount_user_rollups_trigger();
DROP TRIGGER IF EXISTS training_jobs_user_month_insert ON training_jobs;
DROP TRIGGER IF EXISTS training_jobs_user_month_update ON training_jobs;
DROP TRIGGER IF EXISTS training_jobs_user_month_delete ON training_jobs;
DROP TRIGGER IF EXISTS training_jobs_user_month_truncate ON training_jobs;
CREATE TRIGGER training_jobs_user_month_insert AFTER INSERT ON training_jobs REFERENCING NEW TABLE AS new_rows
  FOR EACH STATEMENT EXECUTE FUNCTION lora_ops.track_user_month_jobs();
-- Only an update that names these columns and changes them: state changes and polls never fire it.
CREATE TRIGGER training_jobs_user_month_update AFTER UPDATE OF user_id, created_at ON training_jobs
  FOR EACH ROW WHEN (OLD.user_id IS DISTINCT FROM NEW.user_id OR OLD.created_at IS DISTINCT FROM NEW.created_at)
  EXECUTE FUNCTION lora_ops.move_user_month_job();
CREATE TRIGGER training_jobs_user_month_delete AFTER DELETE ON training_jobs REFERENCING OLD TABLE AS old_rows
  FOR EACH STATEMENT EXECUTE FUNCTION lora_ops.track_user_month_jobs();
CREATE TRIGGER training_jobs_user_month_truncate AFTER TRUNCATE ON training_jobs
  FOR EACH STATEMENT EXECUTE FUNCTION lora_ops.recount_user_rollups_trigger();
SELECT lora_ops.recount_user_rollups();
