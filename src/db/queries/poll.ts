import type { Queryable } from '../types.js'
import { HOLDER_GONE, insertCostRecords, JOB_CHANNEL, onlyIdAndStatus } from './jobs.js'
import type { CostByMonth, CostSource } from '../../jobs/cost.js'

/**
 * Running jobs: claimed for a polling cycle, then every write of that cycle in one
 * statement; their leases given back on a clean stop.
 */

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

/** On a clean stop: running jobs go back to the pool of unowned jobs at once. */
export async function releaseDaemonLeases(q: Queryable, daemonId: string): Promise<number> {
  const rows = await q.query(
    `UPDATE training_jobs SET claimed_by = NULL, lease_expires_at = NULL
      WHERE claimed_by = $1 AND status = 'running' RETURNING id`,
    [daemonId],
  )
  return rows.length
}
