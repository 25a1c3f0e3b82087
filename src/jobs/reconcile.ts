import type { Context } from '../context.js'
import type { JobSummary } from '../cluster/contract.js'
import { readCommittedSpend } from '../db/queries/budget.js'
import { readJobsToReconcile } from '../db/queries/reconcile.js'
import { isTerminal } from './format.js'
import { money } from '../metrics/format.js'
import { cents, costReading } from './cost.js'

/**
 * `lora costs reconcile` (DESIGN section 5): job by job, what the cluster billed
 * against what the cost records hold, and the cluster jobs no platform job owns.
 * Zero untracked GPU minutes: any unowned billed time, or drift above 1 % of the
 * month's spend, fails it.
 */

export const DRIFT_RATIO = 0.01
/** Each record is rounded to the cent: differences within this are rounding, not drift. */
const CENT_TOLERANCE = 0.011

export type ReconcileState = 'ok' | 'drift' | 'running' | 'not_billed' | 'missing_on_cluster'

export interface ReconciledLine {
  job_id: string
  external_job_id: string | null
  cluster: string | null
  status: string
  billed_gpu_seconds: number | null
  billed_cost: number | null
  recorded: number
  difference: number | null
  state: ReconcileState
}

export interface UnownedClusterJob {
  cluster: string
  job_id: string
  external_job_id: string
  status: string
  started_at: string
  billed_gpu_seconds: number | null
}

export interface ReconcileReport {
  month: string
  clusters: string[]
  month_spend: number
  /** Sum of the absolute differences of the jobs in drift. */
  drift: number
  threshold: number
  unowned_gpu_seconds: number
  ok: boolean
  jobs: ReconciledLine[]
  unowned: UnownedClusterJob[]
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export async function reconcileCosts(ctx: Context, month: { label: string; start: Date; end: Date }): Promise<ReconcileReport> {
  const db = await ctx.db()
  const config = await ctx.config()
  const clusters = await ctx.clusters()
  const listed: (JobSummary & { cluster: string })[] = []
  for (const handle of clusters.list) {
    for (const job of await handle.client.listJobs({}, { signal: ctx.signal })) listed.push({ ...job, cluster: handle.config.name })
  }
  // Cluster jobs of the month: started in it, or started before and still holding GPUs.
  const inMonth = listed.filter((j) => {
    const started = Date.parse(j.started_at)
    return started < month.end.getTime() && (started >= month.start.getTime() || !['completed', 'failed', 'cancelled'].includes(j.status))
  })
  const jobs = await readJobsToReconcile(
    db,
    month.start,
    month.end,
    listed.map((j) => j.job_id).filter((id) => UUID.test(id)),
    listed.map((j) => j.external_job_id),
  )
  const byExternal = new Map(listed.map((j) => [`${j.cluster}\u0000${j.external_job_id}`, j]))
  const lines: ReconciledLine[] = []
  for (const job of jobs) {
    // By external id, or by our job id (the idempotency key): a daemon that died between
    // the submission and recording the external id leaves a run only the cluster knows.
    const onCluster =
      (job.external_job_id ? (byExternal.get(`${job.cluster_name}\u0000${job.external_job_id}`) ?? listed.find((l) => l.external_job_id === job.external_job_id)) : undefined) ??
      listed.find((l) => l.job_id === job.id)
    const billed = onCluster?.billed_gpu_seconds ?? null
    const billedCost = billed === null ? null : costReading(job.gpu_config, null, ctx.clock.now(), config.gpuPrices, billed).amount
    const line: ReconciledLine = {
      job_id: job.id,
      external_job_id: job.external_job_id ?? onCluster?.external_job_id ?? null,
      cluster: job.cluster_name ?? onCluster?.cluster ?? null,
      status: job.status,
      billed_gpu_seconds: billed,
      billed_cost: billedCost,
      recorded: job.recorded,
      difference: billedCost === null ? null : cents(job.recorded - billedCost),
      state: 'ok',
    }
    if (!job.external_job_id && !onCluster) continue
    if (!isTerminal(job.status)) line.state = 'running'
    else if (!onCluster) line.state = 'missing_on_cluster'
    else if (billed === null) line.state = 'not_billed'
    else if (Math.abs(line.difference!) > CENT_TOLERANCE) line.state = 'drift'
    lines.push(line)
  }
  const owned = new Set(jobs.map((j) => j.id))
  const ownedExternal = new Set(jobs.map((j) => j.external_job_id).filter(Boolean))
  const unowned = inMonth
    .filter((j) => !owned.has(j.job_id) && !ownedExternal.has(j.external_job_id))
    .map((j) => ({ cluster: j.cluster, job_id: j.job_id, external_job_id: j.external_job_id, status: j.status, started_at: j.started_at, billed_gpu_seconds: j.billed_gpu_seconds ?? null }))
  const { recorded } = await readCommittedSpend(db, month.start)
  const drift = cents(lines.filter((l) => l.state === 'drift').reduce((n, l) => n + Math.abs(l.difference!), 0))
  const threshold = Math.max(CENT_TOLERANCE, cents(recorded * DRIFT_RATIO))
  const unownedSeconds = unowned.reduce((n, j) => n + (j.billed_gpu_seconds ?? 0), 0)
  return {
    month: month.label,
    clusters: clusters.list.map((c) => c.config.name),
    month_spend: recorded,
    drift,
    threshold,
    unowned_gpu_seconds: Math.round(unownedSeconds * 10) / 10,
    // Billed time no platform job owns, or that the cluster does not say, is untracked.
    ok: drift <= threshold && unowned.every((j) => j.billed_gpu_seconds === 0),
    jobs: lines,
    unowned,
  }
}

/** One sentence of what a failed reconciliation found, for the alert and the command. */
export function describeFindings(report: ReconcileReport): string {
  const parts: string[] = []
  const drifting = report.jobs.filter((j) => j.state === 'drift').length
  if (report.drift > report.threshold) parts.push(`cost records differ from the cluster's billing by ${money(report.drift)} over ${drifting} job(s) (threshold ${money(report.threshold)}, 1 % of ${money(report.month_spend)})`)
  const untracked = report.unowned.filter((j) => j.billed_gpu_seconds !== 0)
  if (untracked.length) parts.push(`${untracked.length} cluster job(s) no platform job owns hold ${Math.round(report.unowned_gpu_seconds / 60)} billed GPU minute(s)`)
  return parts.length ? `Costs of ${report.month} do not reconcile: ${parts.join('; ')}.` : `Costs of ${report.month} reconcile with the cluster's billing.`
}

/** The daemon's daily run: reconcile this month and raise, or resolve, the cost-drift alert. */
export async function reconcileAndAlert(ctx: Context): Promise<string> {
  const { monthOf } = await import('../month.js')
  const { raiseAlert, resolveAlert } = await import('../alerts/engine.js')
  const report = await reconcileCosts(ctx, monthOf(ctx.clock.now()))
  const message = describeFindings(report)
  if (report.ok) await resolveAlert(ctx, { rule: 'cost-drift' })
  else await raiseAlert(ctx, { rule: 'cost-drift', severity: 'warning', message, value: report.drift, threshold: report.threshold })
  return message
}
