import type { Queryable } from '../types.js'
import { insertCostRecords, JOB_CHANNEL } from './jobs.js'
import type { CostByMonth, CostSource } from '../../jobs/cost.js'

/** The guarded cancel of `jobs cancel`: the job locked, then cancelled with what it implies. */

export interface CancellableJob {
  id: string
  user_id: string
  status: string
  gpu_config: Record<string, unknown>
  started_at: Date | null
  external_job_id: string | null
  cluster_name: string | null
  current_cost: number
  cost_as_of: Date | null
  cost_by_month: CostByMonth
  billed_gpu_seconds: number | null
}

/**
 * Locks the job's row for the cancel's transaction: a daemon's completion of it waits
 * for the cancel to commit and then finds it no longer running, or commits first and
 * the cancel sees it finished. Either way exactly one of them wins.
 */
export async function lockJobForCancel(q: Queryable, id: string): Promise<CancellableJob | null> {
  const [row] = await q.query<CancellableJob>(
    `SELECT id, user_id, status, gpu_config, started_at, external_job_id, cluster_name,
            current_cost, cost_as_of, cost_by_month, billed_gpu_seconds
       FROM training_jobs WHERE id = $1 FOR UPDATE`,
    [id],
  )
  return row ?? null
}

export interface CancelWrite {
  id: string
  finalCost: number
  costByMonth: CostByMonth
  costSource: CostSource
  billedGpuSeconds: number | null
  reason: string | null
  now: Date
}

export interface CancelledRow {
  id: string
  user_id: string
  final_cost: number
  external_job_id: string | null
  cluster_name: string | null
}

/**
 * The cancel, guarded by the states it may come from, with what it implies: the
 * job_cancelled notification and the cost record (each at most once, by the schema's
 * constraints), and the NOTIFY that `jobs watch` waits for. Returns nothing when the
 * job had already reached a terminal state.
 */
export async function cancelActiveJob(q: Queryable, write: CancelWrite): Promise<CancelledRow | null> {
  const message = write.reason ? `Your training job was cancelled: ${write.reason}` : 'Your training job was cancelled'
  const [row] = await q.query<CancelledRow>(
    `WITH upd AS (
       UPDATE training_jobs
          SET status = 'cancelled', current_stage = 'cancelled', completed_at = $2, final_cost = $3, current_cost = $3,
              cost_by_month = $6::jsonb, cost_source = $7, billed_gpu_seconds = $8, cost_as_of = $2,
              claimed_by = NULL, lease_expires_at = NULL, wait_reason = NULL, updated_at = $2
        WHERE id = $1 AND status IN ('queued', 'initializing', 'running')
       RETURNING id, user_id, status, final_cost, external_job_id, cluster_name, gpu_config, started_at,
                 cost_by_month, cost_source, billed_gpu_seconds
     ),
     notes AS (
       INSERT INTO notifications (user_id, job_id, type, title, message, priority, action_url, metadata, created_at)
       SELECT user_id, id, 'job_cancelled', 'Job Cancelled', $4, 'medium', '/training/jobs/' || id,
              jsonb_strip_nulls(jsonb_build_object('job_id', id, 'final_cost', final_cost, 'reason', $5::text)), $2
         FROM upd
       ON CONFLICT (job_id, type) DO NOTHING
     ),
     -- Every job that reached the cluster has its cost record, $0.00 included.
     costs AS (${insertCostRecords('upd', '$2', 'c.external_job_id IS NOT NULL')})
     SELECT id, user_id, final_cost, external_job_id, cluster_name, pg_notify('${JOB_CHANNEL}', id::text || ':cancelled') FROM upd`,
    [write.id, write.now, write.finalCost, message, write.reason, write.costByMonth, write.costSource, write.billedGpuSeconds],
  )
  if (!row) return null
  const { pg_notify: _, ...cancelled } = row as CancelledRow & { pg_notify?: unknown }
  return cancelled
}
