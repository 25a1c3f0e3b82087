-- Costs from the cluster's billed GPU time, split by the month they were incurred in.

-- What the cluster last said it billed for the job (all GPUs together), where the
-- job's cost comes from, when it was last computed, and how it is spread over the
-- months it ran in ({"YYYY-MM": amount}, summing to current_cost).
ALTER TABLE training_jobs ADD COLUMN IF NOT EXISTS billed_gpu_seconds numeric;
ALTER TABLE training_jobs ADD COLUMN IF NOT EXISTS cost_source text;
ALTER TABLE training_jobs ADD COLUMN IF NOT EXISTS cost_as_of timestamptz;
ALTER TABLE training_jobs ADD COLUMN IF NOT EXISTS cost_by_month jsonb NOT NULL DEFAULT '{}'::jsonb;

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'training_jobs_cost_source_check') THEN
    ALTER TABLE training_jobs ADD CONSTRAINT training_jobs_cost_source_check
      CHECK (cost_source IS NULL OR cost_source IN ('cluster', 'wall_clock'));
  END IF;
END
$$;

-- A cost record's billing_period is the first day of the month it is charged to, and
-- exactly once now means one record per job, cost type and month: a job that ran
-- across the 1st has one record in each month.
UPDATE cost_records SET billing_period = date_trunc('month', billing_period)::date
 WHERE billing_period <> date_trunc('month', billing_period)::date;

DO $$
BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'cost_records_job_type_period_key') THEN
    ALTER TABLE cost_records ADD CONSTRAINT cost_records_job_type_period_key UNIQUE (job_id, cost_type, billing_period);
  END IF;
  IF EXISTS (SELECT 1 FROM pg_constraint WHERE conname = 'cost_records_job_type_key') THEN
    ALTER TABLE cost_records DROP CONSTRAINT cost_records_job_type_key;
  END IF;
END
$$;

-- Month-to-date spend and the budget read recorded costs by billing period.
CREATE INDEX IF NOT EXISTS cost_records_billing_period_idx ON cost_records (billing_period);
