import type { Queryable } from '../types.js'
import type { CostByMonth, CostSource } from '../../jobs/cost.js'

/**
 * Every change of a job is announced on this channel (payload `<job id>:<status>`) at
 * commit, so `lora jobs watch` redraws at once where LISTEN works, and polls otherwise.
 */
export const JOB_CHANNEL = 'lora_jobs'

export const ACTIVE_STATUSES = ['queued', 'initializing', 'running'] as const
export const TERMINAL_STATUSES = ['completed', 'failed', 'cancelled'] as const
export type JobStatus = (typeof ACTIVE_STATUSES)[number] | (typeof TERMINAL_STATUSES)[number]

export interface ClaimedJob {
  id: string
  user_id: string
  dataset_id: string
  hyperparameters: Record<string, unknown>
  gpu_config: Record<string, unknown>
  attempts: number
  storage_bucket: string
  storage_path: string
  estimated_total_cost: number
  /** The dataset's statistics from its validation; null when it was never measured. */
  total_training_pairs: number | null
  total_tokens: number | null
}

export interface RunningJob {
  id: string
  user_id: string
  external_job_id: string
  cluster_name: string
  gpu_config: Record<string, unknown>
  hyperparameters: Record<string, unknown>
  started_at: Date
  current_step: number
  progress: number
  current_cost: number
  cost_as_of: Date | null
  cost_by_month: CostByMonth
  billed_gpu_seconds: number | null
}

/**
 * Claims up to `limit` queued jobs, oldest first, for one daemon: FOR UPDATE SKIP
 * LOCKED, so daemons racing for the queue never claim the same job; the lease says
 * how long the claim holds without a sign of life. With `budgetLeft`, only jobs whose
 * estimates fit in it together are claimed (a job too large for it is passed over,
 * not waited behind); the caller holds the budget lock (src/jobs/budget.ts).
 */
export async function claimQueuedJobs(q: Queryable, daemonId: string, now: Date, leaseMs: number, limit: number, budgetLeft: number | null = null): Promise<ClaimedJob[]> {
  return q.query<ClaimedJob>(
    `WITH candidates AS (
       SELECT id, created_at, coalesce(estimated_total_cost, 0) AS need FROM training_jobs
        WHERE status = 'queued' AND ($5::numeric IS NULL OR coalesce(estimated_total_cost, 0) <= $5::numeric)
        ORDER BY created_at, id LIMIT $4 FOR UPDATE SKIP LOCKED
     ),
     claimable AS (
       SELECT id FROM (SELECT id, sum(need) OVER (ORDER BY created_at, id) AS reserved FROM candidates) c
        WHERE $5::numeric IS NULL OR c.reserved <= $5::numeric
     )
     UPDATE training_jobs j
        SET status = 'initializing', current_stage = 'initializing', claimed_by = $1,
            lease_expires_at = now() + make_interval(secs => $3::float8 / 1000),
            attempts = j.attempts + 1, wait_reason = NULL, updated_at = $2
       FROM claimable c, datasets d
      WHERE j.id = c.id AND d.id = j.dataset_id
     RETURNING j.id, j.user_id, j.dataset_id, j.hyperparameters, j.gpu_config, j.attempts, d.storage_bucket, d.storage_path,
               coalesce(j.estimated_total_cost, 0) AS estimated_total_cost, d.total_training_pairs, d.total_tokens`,
    [daemonId, now, leaseMs, limit, budgetLeft],
  )
}

export interface Submitted {
  id: string
  external_job_id: string
  cluster_name: string
  message: string
}

/**
 * Moves submitted jobs to running, each guarded by the state it comes from and the
 * claim: a job cancelled meanwhile is not moved, and its id is not returned.
 */
export async function markJobsRunning(q: Queryable, daemonId: string, now: Date, leaseMs: number, jobs: Submitted[]): Promise<string[]> {
  if (jobs.length === 0) return []
  const rows = await q.query<{ id: string }>(
    `WITH v AS (SELECT * FROM jsonb_to_recordset($4::jsonb) AS x(id uuid, external_job_id text, cluster_name text, message text)),
     upd AS (
       UPDATE training_jobs j
          SET status = 'running', current_stage = 'training', external_job_id = v.external_job_id,
              cluster_name = v.cluster_name, started_at = $2, updated_at = $2,
              lease_expires_at = now() + make_interval(secs => $3::float8 / 1000)
         FROM v
        WHERE j.id = v.id AND j.status = 'initializing' AND j.claimed_by = $1
       RETURNING j.id, j.user_id, v.message
     ),
     notes AS (
       INSERT INTO notifications (user_id, job_id, type, title, message, priority, action_url, metadata, created_at)
       SELECT user_id, id, 'job_started', 'Training Started', message, 'medium', '/training/jobs/' || id, jsonb_build_object('job_id', id), $2
         FROM upd
       ON CONFLICT (job_id, type) DO NOTHING
     )
     SELECT id, pg_notify('${JOB_CHANNEL}', id::text || ':running') FROM upd`,
    [daemonId, now, leaseMs, jobs],
  )
  return rows.map((r) => r.id)
}

export interface Released {
  id: string
  /** Shown in `jobs list` while the job waits, or stored as the error when it fails. */
  reason: string
  errorType: string
  /** Fail now (a permanent error), instead of returning to the queue. */
  fail: boolean
  countsTowardLimit: boolean
}

/**
 * Gives claimed jobs back: to the queue with the reason, or failed when the error is
 * permanent or the job used its attempts. One statement for the batch.
 */
export async function releaseClaimedJobs(q: Queryable, daemonId: string, now: Date, maxAttempts: number, jobs: Released[]): Promise<{ id: string; status: string }[]> {
  if (jobs.length === 0) return []
  return onlyIdAndStatus(await q.query<{ id: string; status: string }>(
    `WITH v AS (SELECT * FROM jsonb_to_recordset($4::jsonb) AS x(id uuid, reason text, "errorType" text, fail boolean, "countsTowardLimit" boolean)),
     upd AS (
       UPDATE training_jobs j
          SET status = CASE WHEN v.fail OR j.attempts >= $3 THEN 'failed' ELSE 'queued' END,
              current_stage = CASE WHEN v.fail OR j.attempts >= $3 THEN 'failed' ELSE 'queued' END,
              wait_reason = CASE WHEN v.fail OR j.attempts >= $3 THEN NULL ELSE v.reason END,
              error_message = CASE WHEN v.fail OR j.attempts >= $3 THEN v.reason ELSE j.error_message END,
              error_type = CASE WHEN v.fail OR j.attempts >= $3 THEN v."errorType" ELSE j.error_type END,
              counts_toward_limit = CASE WHEN v.fail OR j.attempts >= $3 THEN v."countsTowardLimit" ELSE j.counts_toward_limit END,
              completed_at = CASE WHEN v.fail OR j.attempts >= $3 THEN $2::timestamptz ELSE NULL END,
              final_cost = CASE WHEN v.fail OR j.attempts >= $3 THEN 0 ELSE NULL END,
              claimed_by = NULL, lease_expires_at = NULL, updated_at = $2
         FROM v
        WHERE j.id = v.id AND j.status = 'initializing' AND j.claimed_by = $1
       RETURNING j.id, j.user_id, j.status, j.error_message, j.counts_toward_limit
     ),
     ${failedToStartTail('$2')}`,
    [daemonId, now, maxAttempts, jobs],
  ))
}

/**
 * What a job that failed to start implies, after a CTE `upd` returning id, user_id,
 * status, error_message and counts_toward_limit: its notification, the refund of the
 * user's slot when the failure is not the user's fault, and the NOTIFY of the change.
 */
function failedToStartTail(now: string): string {
  return `notes AS (
       INSERT INTO notifications (user_id, job_id, type, title, message, priority, action_url, metadata, created_at)
       SELECT user_id, id, 'job_failed', 'Training Failed', 'Your training job failed to start: ' || error_message, 'high',
              '/training/jobs/' || id, jsonb_build_object('job_id', id), ${now}
         FROM upd WHERE status = 'failed'
       ON CONFLICT (job_id, type) DO NOTHING
     ),
     refunds AS (
       UPDATE user_training_limits l
          SET loras_created_this_month = greatest(0, l.loras_created_this_month - r.n), updated_at = ${now}
         FROM (SELECT user_id, count(*)::int AS n FROM upd WHERE status = 'failed' AND NOT counts_toward_limit GROUP BY user_id) r
        WHERE l.user_id = r.user_id
     )
     SELECT id, status, pg_notify('${JOB_CHANNEL}', id::text || ':' || status) FROM upd`
}

/**
 * Whether the daemon holding a job is gone: past its lease, or dead by its heartbeat
 * (silent for three of its beat intervals, at least 15 s). Leases and heartbeats are
 * on the database's clock, which every daemon shares, never on a daemon's own.
 */
const HOLDER_GONE = `(j.lease_expires_at < now() OR j.claimed_by IN (
       SELECT h.daemon_id FROM lora_ops.daemon_heartbeats h
        WHERE h.beat_at < now() - make_interval(secs => greatest(3 * h.beat_interval_ms, 15000) / 1000.0)))`

/**
 * Initializing jobs whose daemon fell silent (HOLDER_GONE): back to the queue, or
 * failed after the last attempt. Resubmission is safe: the job id is the cluster's
 * idempotency key.
 */
export async function expireInitializingLeases(q: Queryable, now: Date, maxAttempts: number): Promise<{ id: string; status: string }[]> {
  return onlyIdAndStatus(await q.query<{ id: string; status: string }>(
    `WITH upd AS (
       UPDATE training_jobs j
          SET status = CASE WHEN j.attempts >= $2 THEN 'failed' ELSE 'queued' END,
              current_stage = CASE WHEN j.attempts >= $2 THEN 'failed' ELSE 'queued' END,
              error_message = CASE WHEN j.attempts >= $2 THEN 'Its daemon stopped answering on each of ' || j.attempts || ' attempts (lease expired)' ELSE j.error_message END,
              error_type = CASE WHEN j.attempts >= $2 THEN 'LEASE_EXPIRED' ELSE j.error_type END,
              counts_toward_limit = CASE WHEN j.attempts >= $2 THEN false ELSE j.counts_toward_limit END,
              completed_at = CASE WHEN j.attempts >= $2 THEN $1::timestamptz ELSE NULL END,
              final_cost = CASE WHEN j.attempts >= $2 THEN 0 ELSE NULL END,
              wait_reason = CASE WHEN j.attempts >= $2 THEN NULL ELSE 'previous attempt lost its daemon; retrying' END,
              claimed_by = NULL, lease_expires_at = NULL, updated_at = $1
        WHERE j.status = 'initializing' AND ${HOLDER_GONE}
       RETURNING j.id, j.user_id, j.status, j.error_message, j.counts_toward_limit
     ),
     ${failedToStartTail('$1')}`,
    [now, maxAttempts],
  ))
}

/**
 * The running jobs this daemon polls this cycle: its own, and any whose holder is gone
 * (HOLDER_GONE: a daemon that died is taken over at once). Renews the lease on all of
 * them. `_now` is the caller's clock, unused: leases are on the database's.
 */
export async function claimRunningJobs(q: Queryable, daemonId: string, _now: Date, leaseMs: number, limit: number): Promise<RunningJob[]> {
  return q.query<RunningJob>(
    `WITH mine AS (
       SELECT id FROM training_jobs j
        WHERE status = 'running' AND (claimed_by = $1 OR claimed_by IS NULL OR ${HOLDER_GONE})
        ORDER BY started_at LIMIT $3 FOR UPDATE SKIP LOCKED
     )
     UPDATE training_jobs j
        SET claimed_by = $1, lease_expires_at = now() + make_interval(secs => $2::float8 / 1000)
       FROM mine WHERE j.id = mine.id
     RETURNING j.id, j.user_id, j.external_job_id, j.cluster_name, j.gpu_config, j.hyperparameters, j.started_at, j.current_step, j.progress,
               j.current_cost, j.cost_as_of, j.cost_by_month, j.billed_gpu_seconds`,
    [daemonId, leaseMs, limit],
  )
}

export interface PollUpdate {
  id: string
  status: 'running' | 'completed' | 'failed' | 'cancelled'
  progress: number
  current_epoch: number
  current_step: number
  total_steps: number | null
  total_epochs: number | null
  current_stage: string
  current_metrics: Record<string, unknown> | null
  current_cost: number
  /** current_cost spread over the months it was incurred in. */
  cost_by_month: CostByMonth
  cost_source: CostSource
  billed_gpu_seconds: number | null
  error_message: string | null
  error_type: string | null
  counts_toward_limit: boolean | null
  artifact_id: string | null
  /** The notification's text, for a terminal status. */
  message: string | null
}

/** The figures of one metrics point, as metrics_points stores them. */
export interface MetricValues {
  training_loss: number | null
  validation_loss: number | null
  learning_rate: number | null
  gradient_norm: number | null
  throughput: number | null
  gpu_utilization: number | null
}

export interface PollPoint extends MetricValues {
  job_id: string
  epoch: number
  step: number
}

export interface ArtifactRecord {
  id: string
  job_id: string
  name: string
  status: 'stored' | 'upload_failed'
  storage_path: string | null
  artifacts: Record<string, unknown>
  validation_image_urls: string[]
  source_urls: Record<string, unknown> | null
  upload_error: string | null
}

/**
 * Every write of a polling cycle in one statement, so round trips do not grow with
 * the number of jobs, and each job's writes (its progress, its metrics point, and at a
 * terminal state its cost record, notification, artifact row and limit refund) commit
 * together. Each update is guarded: a job no longer running under this daemon (a
 * cancel won the race) is left alone, and nothing implied is written for it.
 */
export async function applyPollResults(
  q: Queryable,
  daemonId: string,
  now: Date,
  updates: PollUpdate[],
  points: PollPoint[],
  artifacts: ArtifactRecord[],
): Promise<{ id: string; status: string }[]> {
  if (updates.length === 0) return []
  return onlyIdAndStatus(await q.query<{ id: string; status: string }>(
    `WITH v AS (
       SELECT * FROM jsonb_to_recordset($3::jsonb) AS x(
         id uuid, status text, progress numeric, current_epoch int, current_step int, total_steps int, total_epochs int,
         current_stage text, current_metrics jsonb, current_cost numeric, cost_by_month jsonb, cost_source text,
         billed_gpu_seconds numeric, error_message text, error_type text, counts_toward_limit boolean, artifact_id uuid, message text)
     ),
     upd AS (
       UPDATE training_jobs j
          SET status = v.status,
              progress = v.progress, current_epoch = v.current_epoch, current_step = v.current_step,
              total_steps = coalesce(v.total_steps, j.total_steps), total_epochs = coalesce(v.total_epochs, j.total_epochs),
              current_stage = v.current_stage, current_metrics = coalesce(v.current_metrics, j.current_metrics),
              current_cost = v.current_cost, cost_by_month = v.cost_by_month, cost_source = v.cost_source,
              billed_gpu_seconds = v.billed_gpu_seconds, cost_as_of = $2,
              final_cost = CASE WHEN v.status <> 'running' THEN v.current_cost ELSE j.final_cost END,
              completed_at = CASE WHEN v.status <> 'running' THEN $2::timestamptz ELSE j.completed_at END,
              error_message = coalesce(v.error_message, j.error_message),
              error_type = coalesce(v.error_type, j.error_type),
              counts_toward_limit = coalesce(v.counts_toward_limit, j.counts_toward_limit),
              artifact_id = coalesce(v.artifact_id, j.artifact_id),
              claimed_by = CASE WHEN v.status <> 'running' THEN NULL ELSE j.claimed_by END,
              lease_expires_at = CASE WHEN v.status <> 'running' THEN NULL ELSE j.lease_expires_at END,
              updated_at = $2
         FROM v
        WHERE j.id = v.id AND j.status = 'running' AND j.claimed_by = $1
       RETURNING j.id, j.user_id, j.status, j.final_cost, j.gpu_config, j.started_at, j.counts_toward_limit, v.message,
                 j.cost_by_month, j.cost_source, j.billed_gpu_seconds
     ),
     points AS (
       INSERT INTO metrics_points (job_id, "timestamp", epoch, step, training_loss, validation_loss, learning_rate, gradient_norm, throughput, gpu_utilization)
       SELECT p.job_id, $2, p.epoch, p.step, p.training_loss, p.validation_loss, p.learning_rate, p.gradient_norm, p.throughput, p.gpu_utilization
         FROM jsonb_to_recordset($4::jsonb) AS p(job_id uuid, epoch int, step int, training_loss float8, validation_loss float8,
                                                 learning_rate float8, gradient_norm float8, throughput float8, gpu_utilization float8)
         JOIN upd ON upd.id = p.job_id
       ON CONFLICT (job_id, step) DO NOTHING
     ),
     costs AS (${insertCostRecords('upd', '$2', "status <> 'running'")}),
     notes AS (
       INSERT INTO notifications (user_id, job_id, type, title, message, priority, action_url, metadata, created_at)
       SELECT user_id, id, 'job_' || status,
              CASE status WHEN 'completed' THEN 'Training Complete' WHEN 'failed' THEN 'Training Failed' ELSE 'Job Cancelled' END,
              message, CASE status WHEN 'cancelled' THEN 'medium' ELSE 'high' END, '/training/jobs/' || id,
              jsonb_build_object('job_id', id, 'final_cost', final_cost), $2
         FROM upd WHERE status <> 'running'
       ON CONFLICT (job_id, type) DO NOTHING
     ),
     arts AS (
       INSERT INTO model_artifacts (id, job_id, user_id, name, status, storage_bucket, storage_path, artifacts,
                                    validation_image_urls, source_urls, upload_attempts, upload_error, created_at, updated_at)
       SELECT a.id, a.job_id, upd.user_id, a.name, a.status, 'lora-models', a.storage_path, a.artifacts,
              ARRAY(SELECT jsonb_array_elements_text(a.validation_image_urls)), a.source_urls, 1, a.upload_error, $2, $2
         FROM jsonb_to_recordset($5::jsonb) AS a(id uuid, job_id uuid, name text, status text, storage_path text, artifacts jsonb,
                                                 validation_image_urls jsonb, source_urls jsonb, upload_error text)
         JOIN upd ON upd.id = a.job_id AND upd.status = 'completed'
       ON CONFLICT (job_id) DO NOTHING
     ),
     refunds AS (
       UPDATE user_training_limits l
          SET loras_created_this_month = greatest(0, l.loras_created_this_month - r.n), updated_at = $2
         FROM (SELECT user_id, count(*)::int AS n FROM upd WHERE status = 'failed' AND NOT counts_toward_limit GROUP BY user_id) r
        WHERE l.user_id = r.user_id
     )
     SELECT id, status, pg_notify('${JOB_CHANNEL}', id::text || ':' || status) FROM upd`,
    [daemonId, now, updates, points, artifacts],
  ))
}

/**
 * The cost records of jobs that reached a terminal state, from a CTE returning id,
 * user_id, status, final_cost, gpu_config, started_at, cost_by_month, cost_source and
 * billed_gpu_seconds: one record per month the cost was incurred in, $0.00 included,
 * each saying where the figure comes from. billing_period is the month's first day;
 * a month already closed is recorded at its last instant, so every reader that sums
 * by recorded_at (metrics, the daily series, the budget) charges it to that month.
 * At most once per job, type and month: the schema's constraint.
 */
export function insertCostRecords(cte: string, now: string, where: string): string {
  return `
       INSERT INTO cost_records (user_id, job_id, cost_type, amount, details, billing_period, recorded_at)
       SELECT c.user_id, c.id, 'training_compute', m.value::numeric,
              jsonb_build_object('gpu_type', c.gpu_config->>'gpu_type', 'gpu_count', c.gpu_config->'num_gpus',
                                 'duration_hours', round((extract(epoch FROM (${now}::timestamptz - c.started_at)) / 3600)::numeric, 4),
                                 'status', c.status, 'source', coalesce(c.cost_source, 'wall_clock'),
                                 'billed_gpu_seconds', c.billed_gpu_seconds, 'month', m.key, 'final_cost', c.final_cost),
              (m.key || '-01')::date,
              least(${now}::timestamptz, (((m.key || '-01')::date + interval '1 month')::timestamp AT TIME ZONE 'UTC') - interval '1 microsecond')
         FROM ${cte} c
        CROSS JOIN LATERAL jsonb_each_text(CASE WHEN c.cost_by_month = '{}'::jsonb
                 THEN jsonb_build_object(to_char(${now}::timestamptz AT TIME ZONE 'UTC', 'YYYY-MM'), coalesce(c.final_cost, 0))
                 ELSE c.cost_by_month END) m
        WHERE ${where}
       ON CONFLICT (job_id, cost_type, billing_period) DO NOTHING`
}

/** The statements also return pg_notify's empty column: callers see what changed only. */
function onlyIdAndStatus(rows: { id: string; status: string }[]): { id: string; status: string }[] {
  return rows.map((r) => ({ id: r.id, status: r.status }))
}

/** On a clean stop: running jobs go back to the pool of unowned jobs at once. */
export async function releaseDaemonLeases(q: Queryable, daemonId: string): Promise<number> {
  const rows = await q.query(
    `UPDATE training_jobs SET claimed_by = NULL, lease_expires_at = NULL
      WHERE claimed_by = $1 AND status = 'running' RETURNING id`,
    [daemonId],
  )
  return rows.length
}

export async function readJobStatus(q: Queryable, id: string): Promise<JobStatus | null> {
  const [row] = await q.query<{ status: JobStatus }>('SELECT status FROM training_jobs WHERE id = $1', [id])
  return row?.status ?? null
}

/** The reason queued jobs wait (budget, breaker), visible in `jobs list`; null clears it. */
export async function setQueuedWaitReason(q: Queryable, reason: string | null, now: Date): Promise<void> {
  await q.query(
    `UPDATE training_jobs SET wait_reason = $1, updated_at = $2
      WHERE status = 'queued' AND wait_reason IS DISTINCT FROM $1`,
    [reason, now],
  )
}
