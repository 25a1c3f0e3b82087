import type { Context } from '../context.js'
import type { ClusterHandle } from '../cluster/index.js'
import { isTerminalStatus } from '../cluster/contract.js'
import { findJobsByIds, recordOrphan, updateOrphan } from '../db/queries/maintenance.js'

/** Submitted this recently, a cluster job's row may not be written yet: it is left alone. */
export const ORPHAN_GRACE_MS = 5 * 60_000
const CANCEL_BACKOFF_MS = [2_000, 4_000, 8_000]

export interface Orphan {
  cluster: string
  external_job_id: string
  job_id: string | null
  reason: string
  started_at: Date | null
  hourly_cost_usd: number
  /** What it has cost since it started, at that rate. */
  burned_usd: number
}

export interface OrphanOutcome extends Orphan {
  outcome: 'cleaned' | 'failed'
  attempts: number
  error: string | null
}

const TERMINAL = new Set(['completed', 'failed', 'cancelled'])

/**
 * What the clusters run that the database says is finished, does not know, or runs
 * past the training limit (seed 001, scenario 4).
 */
export async function findOrphans(ctx: Context): Promise<Orphan[]> {
  const config = await ctx.config()
  const db = await ctx.db()
  const set = await ctx.clusters()
  const now = ctx.clock.now()
  const fallbackRate = Math.max(...Object.values(config.gpuPrices))
  const orphans: Orphan[] = []
  for (const handle of set.list) {
    const active = await handle.client.listJobs({ active: true }, { signal: ctx.signal })
    const uuidLike = active.map((j) => j.job_id).filter((id) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id))
    const known = new Map((await findJobsByIds(db, uuidLike)).map((j) => [j.id, j]))
    for (const remote of active) {
      const started = remote.started_at ? new Date(remote.started_at) : null
      if (started && now.getTime() - started.getTime() < ORPHAN_GRACE_MS) continue
      const job = known.get(remote.job_id)
      let reason: string | null = null
      if (!job) reason = 'unknown to the database'
      else if (TERMINAL.has(job.status)) reason = `the database says it is ${job.status}`
      else if (job.external_job_id && job.external_job_id !== remote.external_job_id) reason = `the job trains as ${job.external_job_id}; this is a second run`
      else if (job.started_at && now.getTime() - job.started_at.getTime() > config.training.timeoutMs) reason = 'running past the training limit'
      if (!reason) continue
      const perGpu = job?.gpu_config.cost_per_gpu_hour ?? (job?.gpu_config.gpu_type ? config.gpuPrices[job.gpu_config.gpu_type] : undefined) ?? fallbackRate
      const hourly = round2(perGpu * (job?.gpu_config.num_gpus ?? 1))
      const since = started ?? job?.started_at ?? null
      const hours = since ? Math.max(0, now.getTime() - since.getTime()) / 3_600_000 : 0
      orphans.push({
        cluster: handle.config.name,
        external_job_id: remote.external_job_id,
        job_id: job?.id ?? null,
        reason,
        started_at: since,
        hourly_cost_usd: hourly,
        burned_usd: round2(hourly * hours),
      })
    }
  }
  return orphans
}

/**
 * Cancels each orphan with 3 attempts and backoff, confirms it is gone before calling
 * it cleaned, and records every orphan and its outcome in lora_ops.orphaned_instances
 * (where the orphaned-instances alert rule finds the failures).
 */
export async function cleanOrphans(ctx: Context, orphans: Orphan[]): Promise<OrphanOutcome[]> {
  const db = await ctx.db()
  const set = await ctx.clusters()
  const outcomes: OrphanOutcome[] = []
  for (const orphan of orphans) {
    const row = await recordOrphan(db, { cluster: orphan.cluster, external_job_id: orphan.external_job_id, job_id: orphan.job_id, reason: orphan.reason, estimated_hourly_cost: orphan.hourly_cost_usd, started_at: orphan.started_at }, ctx.clock.now())
    const handle = set.get(orphan.cluster)
    let attempts = row.attempts
    let error: string | null = null
    let gone = false
    for (let i = 0; i < CANCEL_BACKOFF_MS.length && !gone; i++) {
      if (i > 0) await ctx.clock.sleep(CANCEL_BACKOFF_MS[i - 1]!, ctx.signal)
      attempts += 1
      await updateOrphan(db, row.id, 'cancelling', attempts, error, ctx.clock.now())
      try {
        await handle.client.cancel(orphan.external_job_id, { signal: ctx.signal })
        gone = await confirmGone(handle, orphan.external_job_id, ctx.signal)
        error = gone ? null : 'the cluster still runs it after the cancel'
      } catch (e) {
        error = (e as Error).message
      }
    }
    await updateOrphan(db, row.id, gone ? 'cleaned' : 'failed', attempts, error, ctx.clock.now())
    outcomes.push({ ...orphan, outcome: gone ? 'cleaned' : 'failed', attempts, error })
  }
  return outcomes
}

async function confirmGone(handle: ClusterHandle, externalId: string, signal: AbortSignal): Promise<boolean> {
  const status = await handle.client.status(externalId, { signal })
  return isTerminalStatus(status.status)
}

function round2(n: number): number {
  return Math.round(n * 100) / 100
}
