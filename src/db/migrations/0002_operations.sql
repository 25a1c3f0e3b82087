-- lora's own operations tables, in a schema Supabase's Data API does not expose.

CREATE SCHEMA IF NOT EXISTS lora_ops;

CREATE TABLE IF NOT EXISTS lora_ops.circuit_breakers (
  cluster          text PRIMARY KEY,
  state            text NOT NULL DEFAULT 'closed' CHECK (state IN ('closed', 'open', 'half_open')),
  -- Bumped on every transition, so a stale writer can tell it lost a race.
  generation       bigint NOT NULL DEFAULT 0,
  failure_times    timestamptz[] NOT NULL DEFAULT '{}',
  opened_at        timestamptz,
  open_until       timestamptz,
  probe_owner      text,
  probe_expires_at timestamptz,
  last_error       text,
  updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS lora_ops.daemon_heartbeats (
  daemon_id     text PRIMARY KEY,
  host          text NOT NULL,
  pid           integer NOT NULL,
  version       text NOT NULL,
  started_at    timestamptz NOT NULL DEFAULT now(),
  last_cycle_at timestamptz,
  last_cycle_ms integer,
  jobs_touched  integer NOT NULL DEFAULT 0,
  status        text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'stopped')),
  last_error    text
);
CREATE INDEX IF NOT EXISTS daemon_heartbeats_last_cycle_idx ON lora_ops.daemon_heartbeats (last_cycle_at);

CREATE TABLE IF NOT EXISTS lora_ops.alert_state (
  fingerprint      text PRIMARY KEY,
  rule             text NOT NULL,
  subject          text NOT NULL DEFAULT '',
  severity         text NOT NULL CHECK (severity IN ('info', 'warning', 'critical')),
  status           text NOT NULL CHECK (status IN ('firing', 'resolved')),
  value            double precision,
  threshold        double precision,
  message          text NOT NULL,
  first_fired_at   timestamptz NOT NULL,
  last_notified_at timestamptz,
  resolved_at      timestamptz,
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS alert_state_status_idx ON lora_ops.alert_state (status, rule);

CREATE TABLE IF NOT EXISTS lora_ops.alert_silences (
  id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  rule       text NOT NULL,
  subject    text,
  until      timestamptz NOT NULL,
  reason     text,
  created_by text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS alert_silences_until_idx ON lora_ops.alert_silences (until);

CREATE TABLE IF NOT EXISTS lora_ops.orphaned_instances (
  id                    uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  cluster               text NOT NULL,
  external_job_id       text NOT NULL,
  job_id                uuid,
  reason                text NOT NULL,
  status                text NOT NULL DEFAULT 'detected'
                          CHECK (status IN ('detected', 'cancelling', 'cleaned', 'failed')),
  attempts              integer NOT NULL DEFAULT 0,
  estimated_hourly_cost numeric(12, 2),
  started_at            timestamptz,
  first_seen_at         timestamptz NOT NULL DEFAULT now(),
  last_attempt_at       timestamptz,
  cleaned_at            timestamptz,
  last_error            text,
  CONSTRAINT orphaned_instances_cluster_external_key UNIQUE (cluster, external_job_id)
);
CREATE INDEX IF NOT EXISTS orphaned_instances_status_idx ON lora_ops.orphaned_instances (status);

CREATE TABLE IF NOT EXISTS lora_ops.audit_log (
  id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  actor      text NOT NULL,
  action     text NOT NULL,
  target     text,
  count      integer NOT NULL DEFAULT 0,
  dry_run    boolean NOT NULL DEFAULT false,
  details    jsonb NOT NULL DEFAULT '{}'::jsonb,
  created_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS audit_log_created_at_idx ON lora_ops.audit_log (created_at);

CREATE TABLE IF NOT EXISTS lora_ops.task_runs (
  task             text PRIMARY KEY,
  last_slot        timestamptz,
  last_started_at  timestamptz,
  last_finished_at timestamptz,
  last_status      text,
  last_error       text,
  run_by           text
);
