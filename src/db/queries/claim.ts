import type { Queryable } from '../types.js'
import { HOLDER_GONE, JOB_CHANNEL, onlyIdAndStatus } from './jobs.js'

/**
 * A queued job's way to the cluster: claimed under a lease, marked running once the
 * cluster took it, or given back (to the queue, or failed); leases of silent daemons
 * expire. The reason queued jobs wait is written here too.
 */

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
 * Initializing jobs whose daemon fell silent (HOLDER_GONE): back to the queue, or
 * failed after the last attempt. Resubmission is safe: the job id is the cluster's
 * idempotency key.
 *
 * With `ownDaemonId`, the caller's own initializing jobs too: a daemon holds none
 * between its cycles, so one it still holds at the start of a cycle is a claim its
 * last cycle lost (the database went away between the claim and its release), which
 * its heartbeat would otherwise keep renewing for as long as the daemon lives.
 */
export async function expireInitializingLeases(q: Queryable, now: Date, maxAttempts: number, ownDaemonId: string | null = null): Promise<{ id: string; status: string }[]> {
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
              wait_reason = CASE WHEN j.attempts >= $2 THEN NULL
                                 WHEN j.claimed_by = $3 THEN 'previous attempt was cut off by a database outage; retrying'
                                 ELSE 'previous attempt lost its daemon; retrying' END,
              claimed_by = NULL, lease_expires_at = NULL, updated_at = $1
        WHERE j.status = 'initializing' AND (${HOLDER_GONE} OR j.claimed_by = $3)
       RETURNING j.id, j.user_id, j.status, j.error_message, j.counts_toward_limit
     ),
     ${failedToStartTail('$1')}`,
    [now, maxAttempts, ownDaemonId],
  ))
}

/** The reason queued jobs wait (budget, breaker), visible in `jobs list`; null clears it. */
export async function setQueuedWaitReason(q: Queryable, reason: string | null, now: Date): Promise<void> {
  await q.query(
    `UPDATE training_jobs SET wait_reason = $1, updated_at = $2
      WHERE status = 'queued' AND wait_reason IS DISTINCT FROM $1`,
    [reason, now],
  )
}
