-- Platform tables (names of the seeds' v2 documents, no lora_ prefix).
-- Columns are those the platform's documents use, plus what operations need.

CREATE TABLE IF NOT EXISTS datasets (
  id                   uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id              uuid NOT NULL,
  name                 text NOT NULL,
  description          text,
  format               text NOT NULL CHECK (format IN ('chat', 'completion', 'instruction')),
  status               text NOT NULL DEFAULT 'uploading'
                         CHECK (status IN ('uploading', 'validating', 'ready', 'failed')),
  storage_bucket       text NOT NULL DEFAULT 'lora-datasets',
  storage_path         text NOT NULL,
  file_size            bigint,
  sha256               text,
  total_training_pairs integer,
  total_tokens         bigint,
  training_ready       boolean NOT NULL DEFAULT false,
  error_message        text,
  validated_at         timestamptz,
  created_at           timestamptz NOT NULL DEFAULT now(),
  updated_at           timestamptz NOT NULL DEFAULT now(),
  deleted_at           timestamptz
);
CREATE INDEX IF NOT EXISTS datasets_created_at_idx ON datasets (created_at);
CREATE INDEX IF NOT EXISTS datasets_status_idx ON datasets (status, created_at) WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS datasets_user_sha256_idx ON datasets (user_id, sha256) WHERE deleted_at IS NULL;

CREATE TABLE IF NOT EXISTS training_jobs (
  id                       uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id                  uuid NOT NULL,
  dataset_id               uuid NOT NULL REFERENCES datasets (id),
  preset_id                text,
  hyperparameters          jsonb NOT NULL DEFAULT '{}'::jsonb,
  gpu_config               jsonb NOT NULL DEFAULT '{}'::jsonb,
  status                   text NOT NULL DEFAULT 'queued'
                             CHECK (status IN ('queued', 'initializing', 'running', 'completed', 'failed', 'cancelled')),
  current_stage            text,
  progress                 numeric(5, 2) NOT NULL DEFAULT 0,
  current_epoch            integer NOT NULL DEFAULT 0,
  total_epochs             integer,
  current_step             integer NOT NULL DEFAULT 0,
  total_steps              integer,
  current_metrics          jsonb,
  external_job_id          text,
  cluster_name             text,
  estimated_total_cost     numeric(12, 2),
  estimated_duration_hours numeric(10, 3),
  current_cost             numeric(12, 2) NOT NULL DEFAULT 0,
  final_cost               numeric(12, 2),
  error_message            text,
  error_stack              text,
  error_type               text,
  -- Failures that are not the user's fault (timeout, invalid images, quality
  -- validation) do not count toward the monthly limit.
  counts_toward_limit      boolean NOT NULL DEFAULT true,
  attempts                 integer NOT NULL DEFAULT 0,
  claimed_by               text,
  lease_expires_at         timestamptz,
  wait_reason              text,
  artifact_id              uuid,
  started_at               timestamptz,
  completed_at             timestamptz,
  created_at               timestamptz NOT NULL DEFAULT now(),
  updated_at               timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS training_jobs_status_created_idx ON training_jobs (status, created_at);
CREATE INDEX IF NOT EXISTS training_jobs_created_at_idx ON training_jobs (created_at);
CREATE INDEX IF NOT EXISTS training_jobs_user_created_idx ON training_jobs (user_id, created_at);
CREATE INDEX IF NOT EXISTS training_jobs_dataset_idx ON training_jobs (dataset_id);
CREATE INDEX IF NOT EXISTS training_jobs_active_lease_idx ON training_jobs (lease_expires_at)
  WHERE status IN ('initializing', 'running');
CREATE INDEX IF NOT EXISTS training_jobs_completed_at_idx ON training_jobs (completed_at)
  WHERE completed_at IS NOT NULL;
CREATE UNIQUE INDEX IF NOT EXISTS training_jobs_external_job_idx ON training_jobs (cluster_name, external_job_id)
  WHERE external_job_id IS NOT NULL;

CREATE TABLE IF NOT EXISTS metrics_points (
  id              bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job_id          uuid NOT NULL REFERENCES training_jobs (id) ON DELETE CASCADE,
  "timestamp"     timestamptz NOT NULL DEFAULT now(),
  epoch           integer,
  step            integer NOT NULL,
  training_loss   double precision,
  validation_loss double precision,
  learning_rate   double precision,
  gradient_norm   double precision,
  throughput      double precision,
  gpu_utilization double precision,
  -- One point per job and step: a poll repeated after a crash writes nothing twice.
  CONSTRAINT metrics_points_job_step_key UNIQUE (job_id, step)
);
CREATE INDEX IF NOT EXISTS metrics_points_timestamp_idx ON metrics_points ("timestamp");

CREATE TABLE IF NOT EXISTS cost_records (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id        uuid NOT NULL,
  job_id         uuid REFERENCES training_jobs (id) ON DELETE SET NULL,
  cost_type      text NOT NULL,
  amount         numeric(12, 2) NOT NULL,
  details        jsonb NOT NULL DEFAULT '{}'::jsonb,
  billing_period date NOT NULL,
  recorded_at    timestamptz NOT NULL DEFAULT now(),
  -- Exactly once: one cost record per job and cost type.
  CONSTRAINT cost_records_job_type_key UNIQUE (job_id, cost_type)
);
CREATE INDEX IF NOT EXISTS cost_records_recorded_at_idx ON cost_records (recorded_at);
CREATE INDEX IF NOT EXISTS cost_records_user_recorded_idx ON cost_records (user_id, recorded_at);

CREATE TABLE IF NOT EXISTS notifications (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  user_id    uuid NOT NULL,
  job_id     uuid REFERENCES training_jobs (id) ON DELETE CASCADE,
  type       text NOT NULL,
  title      text NOT NULL,
  message    text NOT NULL,
  priority   text NOT NULL DEFAULT 'medium' CHECK (priority IN ('low', 'medium', 'high', 'critical')),
  action_url text,
  metadata   jsonb NOT NULL DEFAULT '{}'::jsonb,
  read       boolean NOT NULL DEFAULT false,
  read_at    timestamptz,
  created_at timestamptz NOT NULL DEFAULT now(),
  -- Exactly once: one notification per job and event.
  CONSTRAINT notifications_job_type_key UNIQUE (job_id, type)
);
CREATE INDEX IF NOT EXISTS notifications_user_created_idx ON notifications (user_id, created_at);
CREATE INDEX IF NOT EXISTS notifications_read_created_idx ON notifications (created_at) WHERE read;

CREATE TABLE IF NOT EXISTS model_artifacts (
  id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  job_id                uuid NOT NULL REFERENCES training_jobs (id),
  user_id               uuid NOT NULL,
  name                  text,
  status                text NOT NULL DEFAULT 'stored'
                          CHECK (status IN ('uploading', 'stored', 'upload_failed')),
  storage_bucket        text NOT NULL DEFAULT 'lora-models',
  storage_path          text,
  -- Sizes: lora_adapter_size, full_model_size (bytes).
  artifacts             jsonb NOT NULL DEFAULT '{}'::jsonb,
  validation_image_urls text[] NOT NULL DEFAULT '{}',
  -- The cluster's own URLs, kept until the copy into storage succeeds, so a trained
  -- adapter is never lost when an upload fails.
  source_urls           jsonb,
  upload_attempts       integer NOT NULL DEFAULT 0,
  upload_error          text,
  last_used_at          timestamptz,
  created_at            timestamptz NOT NULL DEFAULT now(),
  updated_at            timestamptz NOT NULL DEFAULT now(),
  deleted_at            timestamptz,
  CONSTRAINT model_artifacts_job_key UNIQUE (job_id)
);
CREATE INDEX IF NOT EXISTS model_artifacts_created_at_idx ON model_artifacts (created_at) WHERE deleted_at IS NULL;
CREATE INDEX IF NOT EXISTS model_artifacts_upload_failed_idx ON model_artifacts (updated_at) WHERE status = 'upload_failed';
CREATE INDEX IF NOT EXISTS model_artifacts_user_idx ON model_artifacts (user_id);

CREATE TABLE IF NOT EXISTS user_training_limits (
  user_id                  uuid PRIMARY KEY,
  loras_created_this_month integer NOT NULL DEFAULT 0 CHECK (loras_created_this_month >= 0),
  monthly_limit            integer NOT NULL DEFAULT 10 CHECK (monthly_limit >= 0),
  month_reset_date         date,
  created_at               timestamptz NOT NULL DEFAULT now(),
  updated_at               timestamptz NOT NULL DEFAULT now()
);

-- Supabase exposes public through its Data API: deny by default. The service role
-- (and the owner `lora` connects as) bypasses row-level security.
ALTER TABLE datasets ENABLE ROW LEVEL SECURITY;
ALTER TABLE training_jobs ENABLE ROW LEVEL SECURITY;
ALTER TABLE metrics_points ENABLE ROW LEVEL SECURITY;
ALTER TABLE cost_records ENABLE ROW LEVEL SECURITY;
ALTER TABLE notifications ENABLE ROW LEVEL SECURITY;
ALTER TABLE model_artifacts ENABLE ROW LEVEL SECURITY;
ALTER TABLE user_training_limits ENABLE ROW LEVEL SECURITY;

-- On a Supabase database, owners may read their own rows through the Data API.
DO $$
DECLARE
  t text;
BEGIN
  IF EXISTS (
    SELECT 1 FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
    WHERE n.nspname = 'auth' AND p.proname = 'uid'
  ) THEN
    FOREACH t IN ARRAY ARRAY['datasets', 'training_jobs', 'cost_records', 'notifications',
                             'model_artifacts', 'user_training_limits'] LOOP
      IF NOT EXISTS (SELECT 1 FROM pg_policies WHERE tablename = t AND policyname = t || '_owner_select') THEN
        EXECUTE format('CREATE POLICY %I ON %I FOR SELECT USING (user_id = auth.uid())', t || '_owner_select', t);
      END IF;
    END LOOP;
    IF NOT EXISTS (SELECT 1 FROM pg_policies WHERE tablename = 'metrics_points' AND policyname = 'metrics_points_owner_select') THEN
      EXECUTE 'CREATE POLICY metrics_points_owner_select ON metrics_points FOR SELECT USING (
        EXISTS (SELECT 1 FROM training_jobs j WHERE j.id = metrics_points.job_id AND j.user_id = auth.uid()))';
    END IF;
  END IF;
END
$$;
