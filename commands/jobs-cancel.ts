import { z } from 'zod'
import type { Context } from '../src/context.js'
import { ExitCode } from '../src/errors.js'
import { confirmAction, requireConfirmable } from '../src/io/confirm.js'
import { dryRun, flag, jobRef, json, optionsOf, yes } from '../src/flags.js'

export const flags = {
  reason: flag('--reason <text>', 'why: kept in the notification and the audit log', z.string().trim().min(1, 'expected some text').max(500, 'must be at most 500 characters').optional()),
  dryRun: { ...dryRun, description: 'say what cancelling would do, cancel nothing' },
  yes,
  json,
}

export const Options = optionsOf(flags, { args: z.array(jobRef).min(1, 'expected at least one job id') })

export const help = `On a terminal it asks first; otherwise it needs --yes. --dry-run says what it would do and changes nothing.
Exit 1 when any job could not be cancelled (not found, or already finished).`
export const examples = [
  'lora jobs cancel bfc44f88 --dry-run',
  'lora jobs cancel bfc44f88 c0ffee01 --yes --reason "wrong dataset"',
]

const ACTION = 'Cancelling jobs'

export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<ExitCode> {
  const { cancelJob } = await import('../src/jobs/cancel.js')
  const { readJob } = await import('../src/db/queries/job-views.js')
  const { jobCost } = await import('../src/jobs/format.js')
  const { money } = await import('../src/metrics/format.js')
  const { printTable } = await import('../src/io/output.js')
  requireConfirmable(ctx, ACTION, opts)
  const { resolveJobId } = await import('../src/ids.js')
  const resolved: string[] = []
  for (const given of opts.args) resolved.push(await resolveJobId(await ctx.db(), given))
  const ids = [...new Set(resolved)]

  if (opts.dryRun) return dryRunCancel(ctx, ids, opts.json)
  if (!opts.yes) {
    const db = await ctx.db()
    const prices = (await ctx.config()).gpuPrices
    const now = ctx.clock.now()
    ctx.io.err(`About to cancel ${ids.length === 1 ? 'this job' : `these ${ids.length} jobs`}:`)
    for (const id of ids) {
      const job = await readJob(db, id)
      ctx.io.err(job ? `  ${id}  ${job.status}  ${job.dataset_name ?? job.dataset_id}  ${money(jobCost(job, now, prices))} so far` : `  ${id}  (no such job)`)
    }
    if (!(await confirmAction(ctx, { action: ACTION, question: ids.length === 1 ? 'Cancel this job?' : `Cancel these ${ids.length} jobs?`, yes: opts.yes }))) {
      ctx.io.err('Nothing cancelled.')
      return ExitCode.failed
    }
  }

  type Result = Awaited<ReturnType<typeof cancelJob>>
  const results: Result[] = []
  for (const id of ids) {
    let result: Result
    try {
      result = await cancelJob(ctx, id, opts.reason ?? null)
    } catch (error) {
      if (!ctx.signal.aborted) throw error
      ctx.io.err(`Interrupted: ${ids.slice(results.length).join(', ')} not cancelled.`)
      break
    }
    results.push(result)
    if (result.cluster === 'failed') {
      ctx.io.warn(`could not cancel job ${id} on the GPU cluster (${result.cluster_detail}); cancelled it locally, and orphan cleanup will stop the cluster's run.`)
    } else if (result.cluster === 'already_ended' && result.outcome === 'cancelled') {
      ctx.io.warn(`the GPU cluster had already ended job ${id}'s run (${result.cluster_detail}); cancelled it locally all the same, so its result is not kept.`)
    }
    if (result.outcome === 'not_found') ctx.io.err(`error: no training job has id ${id}.`)
    else if (result.outcome === 'already_finished') ctx.io.err(`error: job ${id} is already ${result.status}: nothing to cancel.`)
    else if (result.outcome === 'finished_meanwhile') ctx.io.err(`error: job ${id} became ${result.status} while it was being cancelled: left ${result.status}, not cancelled.`)
  }

  if (opts.json) ctx.io.json({ results })
  else {
    const tty = ctx.io.stdoutIsTTY
    await printTable<Result>(ctx.io, [
      { header: 'ID', value: (r) => r.id, id: true },
      { header: 'Result', value: (r) => r.outcome },
      { header: 'Status', value: (r) => r.status },
      { header: 'Final cost', value: (r) => (r.final_cost === null ? null : tty ? money(r.final_cost) : r.final_cost.toFixed(2)), align: 'right' },
      { header: 'Cluster', value: (r) => r.cluster },
    ], results)
  }
  if (results.length < ids.length) return ExitCode.interrupted
  return results.every((r) => r.outcome === 'cancelled') ? ExitCode.ok : ExitCode.failed
}

/** --dry-run: what a cancel of each job would do, read without writing anything. */
async function dryRunCancel(ctx: Context, ids: string[], json: boolean): Promise<ExitCode> {
  const { readJob } = await import('../src/db/queries/job-views.js')
  const { ACTIVE_STATUSES } = await import('../src/db/queries/jobs.js')
  const { jobCost } = await import('../src/jobs/format.js')
  const { money } = await import('../src/metrics/format.js')
  const db = await ctx.db()
  const prices = (await ctx.config()).gpuPrices
  const now = ctx.clock.now()
  const results: { id: string; outcome: 'would_cancel' | 'not_found' | 'already_finished'; status: string | null; cost_so_far: number | null; on_cluster: boolean }[] = []
  for (const id of ids) {
    const job = await readJob(db, id)
    if (!job) results.push({ id, outcome: 'not_found', status: null, cost_so_far: null, on_cluster: false })
    else {
      const active = (ACTIVE_STATUSES as readonly string[]).includes(job.status)
      results.push({ id, outcome: active ? 'would_cancel' : 'already_finished', status: job.status, cost_so_far: jobCost(job, now, prices), on_cluster: active && job.external_job_id !== null })
    }
  }
  const ok = results.every((r) => r.outcome === 'would_cancel') ? ExitCode.ok : ExitCode.failed
  if (json) {
    ctx.io.json({ dry_run: true, results })
    return ok
  }
  for (const r of results) {
    const text =
      r.outcome === 'not_found' ? `no training job has id ${r.id}`
      : r.outcome === 'already_finished' ? `job ${r.id} is already ${r.status}: nothing to cancel`
      : `would cancel job ${r.id} (${r.status}, ${money(r.cost_so_far ?? 0)} so far)${r.on_cluster ? ', on the GPU cluster too' : ''}`
    ctx.io.err(`dry run: ${text}`)
  }
  ctx.io.err('dry run: nothing changed.')
  return ok
}
