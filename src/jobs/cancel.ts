import type { Context } from '../context.js'
import { actorName, recordAudit } from '../db/queries/audit.js'
import { cancelActiveJob, lockJobForCancel } from '../db/queries/cancel.js'
import { readJob } from '../db/queries/job-views.js'
import { isTerminal } from './format.js'
import { advanceCost, costReading } from './cost.js'

export type CancelOutcome =
  /** This cancel moved the job to cancelled. */
  | 'cancelled'
  /** The job was already completed, failed or cancelled: left as it was. */
  | 'already_finished'
  /** The job finished (completed or failed) while the cancel was under way: it was not overwritten. */
  | 'finished_meanwhile'
  | 'not_found'

export interface CancelResult {
  id: string
  outcome: CancelOutcome
  /** The job's status after the attempt (null when there is no such job). */
  status: string | null
  final_cost: number | null
  /**
   * What the GPU cluster said: it cancelled the run, the run had already ended there
   * (completed or failed), the call failed, or the job never reached a cluster.
   */
  cluster: 'cancelled' | 'already_ended' | 'failed' | 'not_submitted'
  /** The error of a failed call, or the status of a run that had already ended. */
  cluster_detail: string | null
}

/**
 * Cancels one job (DESIGN section 4): on the GPU cluster first when it has an external
 * id (a failure there is reported, and the job is cancelled locally all the same),
 * then one guarded transaction that sets it cancelled with its final cost, its
 * notification, its cost record, the audit entry and the NOTIFY. A job that finished
 * meanwhile is reported as such and not overwritten.
 */
/**
 * How long the cluster's cancel may take, retries included (a network deadline, so
 * real time, like the client's own request timeouts): an on-call cancelling during a
 * cluster outage gets the local cancel within this, not after every retry has timed out.
 */
export const CLUSTER_CANCEL_DEADLINE_MS = 30_000

export async function cancelJob(ctx: Context, id: string, reason: string | null): Promise<CancelResult> {
  const db = await ctx.db()
  const config = await ctx.config()
  const before = await readJob(db, id)
  if (!before) return { id, outcome: 'not_found', status: null, final_cost: null, cluster: 'not_submitted', cluster_detail: null }
  if (isTerminal(before.status)) {
    return { id, outcome: 'already_finished', status: before.status, final_cost: before.final_cost, cluster: 'not_submitted', cluster_detail: null }
  }

  const remote: { cluster: CancelResult['cluster']; detail: string | null; billed?: number } = { cluster: 'not_submitted', detail: null }
  const cancelOnCluster = async (externalId: string, clusterName: string | null) => {
    try {
      const clusters = await ctx.clusters()
      const handle = clusterName ? clusters.get(clusterName) : clusters.list[0]
      if (!handle) throw new Error('the profile has no GPU cluster')
      const deadline = AbortSignal.timeout(CLUSTER_CANCEL_DEADLINE_MS)
      const answer = await handle.client.cancel(externalId, { signal: AbortSignal.any([ctx.signal, deadline]) }).catch((error: unknown) => {
        if (deadline.aborted && !ctx.signal.aborted) throw new Error(`no answer within ${CLUSTER_CANCEL_DEADLINE_MS / 1000}s`)
        throw error
      })
      // A run that had ended there is reported; the job is cancelled here all the same.
      remote.cluster = answer.status === 'completed' || answer.status === 'failed' ? 'already_ended' : 'cancelled'
      remote.detail = remote.cluster === 'already_ended' ? answer.status : null
      // What the run was billed, once stopped: the cancel's answer says, or its status does.
      const billed = answer.billed_gpu_seconds ?? (await handle.client.status(externalId, { signal: AbortSignal.any([ctx.signal, deadline]) }).catch(() => null))?.billed_gpu_seconds
      if (billed !== undefined) remote.billed = billed
    } catch (error) {
      if (ctx.signal.aborted) throw error
      remote.cluster = 'failed'
      remote.detail = (error as Error).message
    }
  }
  if (before.external_job_id) await cancelOnCluster(before.external_job_id, before.cluster_name)

  const now = ctx.clock.now()
  const written = await db.transaction(async (tx) => {
    const job = await lockJobForCancel(tx, id)
    if (!job) return { outcome: 'not_found' as const, status: null, final_cost: null, row: null }
    if (isTerminal(job.status)) {
      const [row] = await tx.query<{ final_cost: number | null }>('SELECT final_cost FROM training_jobs WHERE id = $1', [id])
      return { outcome: 'finished_meanwhile' as const, status: job.status, final_cost: row?.final_cost ?? null, row: null }
    }
    const cost = costReading(job.gpu_config, job.started_at, now, config.gpuPrices, remote.billed ?? job.billed_gpu_seconds)
    const finalCost = cost.amount
    const costByMonth = advanceCost(job, now, finalCost)
    // Guarded as well: under the row lock it cannot miss, but the statement stands on its own.
    const row = await cancelActiveJob(tx, { id, finalCost, costByMonth, costSource: cost.source, billedGpuSeconds: cost.billedGpuSeconds, reason, now })
    if (!row) return { outcome: 'finished_meanwhile' as const, status: job.status, final_cost: null, row: null }
    await recordAudit(tx, actorName(ctx.env), { action: 'jobs.cancel', target: id, count: 1, details: { was: job.status, final_cost: finalCost, ...(reason ? { reason } : {}) } }, now)
    return { outcome: 'cancelled' as const, status: 'cancelled', final_cost: row.final_cost, row }
  })

  if (written.outcome === 'finished_meanwhile' && written.status === 'cancelled' && remote.cluster === 'cancelled') {
    // The cluster's cancel reached the daemon first, which recorded it: the cancel worked.
    return { id, outcome: 'cancelled', status: 'cancelled', final_cost: written.final_cost, cluster: remote.cluster, cluster_detail: null }
  }
  // Submitted to the cluster between the first read and the cancel: stop that run too.
  if (written.row?.external_job_id && written.row.external_job_id !== before.external_job_id) {
    await cancelOnCluster(written.row.external_job_id, written.row.cluster_name)
  }
  return { id, outcome: written.outcome, status: written.status, final_cost: written.final_cost, cluster: remote.cluster, cluster_detail: remote.detail }
}
