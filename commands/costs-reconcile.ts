import { z } from 'zod'
import type { Context } from '../src/context.js'
import { printTable } from '../src/io/output.js'
import { ExitCode } from '../src/errors.js'
import { json, month, optionsOf } from '../src/flags.js'

export const flags = { month, json }

export const Options = optionsOf(flags)

export const help = `Lists jobs whose cost records differ from what the cluster billed, and cluster jobs that no platform job owns.
Exit 1 when the drift passes 1 % of the month's spend or any billed time is unowned. The daemon runs it daily (alert cost-drift).`
export const examples = [
  'lora costs reconcile',
  'lora costs reconcile --month 2026-03 --json',
]

/**
 * `lora costs reconcile`: the cluster's billing against the cost records, job by job,
 * and cluster jobs no platform job owns. Exit 1 when they do not reconcile.
 */
export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<ExitCode> {
  const { reconcileCosts, describeFindings } = await import('../src/jobs/reconcile.js')
  const { monthOf, parseMonth } = await import('../src/month.js')
  const now = ctx.clock.now()
  const month = opts.month ? parseMonth(opts.month, now) : monthOf(now)
  const report = await reconcileCosts(ctx, month)
  if (opts.json) {
    ctx.io.json(report)
    return report.ok ? ExitCode.ok : ExitCode.failed
  }
  ctx.io.out(describeFindings(report))
  const problems = report.jobs.filter((j) => j.state !== 'ok' && j.state !== 'running')
  if (problems.length) {
    ctx.io.out('')
    await printTable(ctx.io, [
      { header: 'Job', value: (j) => j.job_id, id: true },
      { header: 'State', value: (j) => j.state },
      { header: 'Status', value: (j) => j.status },
      { header: 'Billed GPU s', value: (j) => j.billed_gpu_seconds, align: 'right' },
      { header: 'Billed', value: (j) => (j.billed_cost === null ? null : j.billed_cost.toFixed(2)), align: 'right' },
      { header: 'Recorded', value: (j) => j.recorded.toFixed(2), align: 'right' },
      { header: 'Difference', value: (j) => (j.difference === null ? null : j.difference.toFixed(2)), align: 'right' },
    ], problems)
  }
  if (report.unowned.length) {
    ctx.io.out('')
    ctx.io.out('Cluster jobs no platform job owns:')
    await printTable(ctx.io, [
      { header: 'Cluster', value: (j) => j.cluster },
      { header: 'External id', value: (j) => j.external_job_id },
      { header: 'Job id', value: (j) => j.job_id, id: true },
      { header: 'Status', value: (j) => j.status },
      { header: 'Started', value: (j) => j.started_at },
      { header: 'Billed GPU s', value: (j) => j.billed_gpu_seconds, align: 'right' },
    ], report.unowned)
  }
  if (ctx.io.stdoutIsTTY) ctx.io.err(`${report.jobs.length} job(s) compared on ${report.clusters.join(', ')}; --json gives every line.`)
  return report.ok ? ExitCode.ok : ExitCode.failed
}
