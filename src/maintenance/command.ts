import { z } from 'zod'
import type { Context } from '../context.js'
import { ExitCode } from '../errors.js'
import { dryRun, duration, flag, type Flags, json, optionsOf, yes } from '../flags.js'
import { printTable } from '../io/output.js'
import { runTask, TASK_NAMES, type TaskName, type TaskReport } from './tasks.js'
import type { Orphan, OrphanOutcome } from './orphans.js'
import type { ArchivalReview } from './simple-cleanups.js'

/** Every flag a cleanup takes; each `lora cleanup X` declares the ones it has. */
export const cleanupFlags = {
  olderThan: flag('--older-than <duration>', 'age past which to delete (default 30d)', duration().optional()),
  unusedFor: flag('--unused-for <duration>', 'unused for at least this long (default 6mo)', duration().optional()),
  dryRun,
  yes,
  json,
}
export const CleanupOptions = optionsOf(cleanupFlags)
/** What a cleanup's Options give: the flags it lacks are absent (a report-only cleanup has no --yes). */
export type CleanupOptions = Partial<z.infer<typeof CleanupOptions>> & { json: boolean }

export const CLEANUP_HELP = 'On a terminal it asks first; otherwise it needs --yes. Safe to run twice, from cron, while the daemon runs. Every run is written to the audit log.'

/** A `lora cleanup X` command module: its flags (of cleanupFlags), their Options, its help and run. */
export function cleanupCommand<F extends Flags>(task: TaskName | 'all', text: { flags: F; help?: string; examples: string[] }) {
  return {
    ...text,
    Options: optionsOf(text.flags),
    run: (opts: CleanupOptions, ctx: Context): Promise<ExitCode> => (task === 'all' ? runAllCleanups(opts, ctx) : runCleanupCommand(task, opts, ctx)),
  }
}

function printReport(ctx: Context, report: TaskReport): void {
  ctx.io.out(`${report.task}: ${report.summary}`)
}

async function printItems(ctx: Context, report: TaskReport): Promise<void> {
  if (report.items.length === 0) return
  if (report.task === 'orphans') {
    await printTable(ctx.io, [
      { header: 'Cluster', value: (o: Orphan & Partial<OrphanOutcome>) => o.cluster },
      { header: 'External id', value: (o) => o.external_job_id },
      { header: 'Job', value: (o) => o.job_id, id: true },
      { header: 'Reason', value: (o) => o.reason },
      { header: 'USD/h', value: (o) => o.hourly_cost_usd.toFixed(2), align: 'right' },
      { header: 'Burned USD', value: (o) => o.burned_usd.toFixed(2), align: 'right' },
      { header: 'Outcome', value: (o) => o.outcome ?? 'would cancel' },
    ], report.items as (Orphan & Partial<OrphanOutcome>)[])
  } else if (report.task === 'archival-review') {
    await printTable(ctx.io, [
      { header: 'Artifact', value: (a: ArchivalReview['candidates'][number]) => a.id },
      { header: 'Job', value: (a) => a.job_id, id: true },
      { header: 'Size MB', value: (a) => (a.size_bytes / 1024 ** 2).toFixed(1), align: 'right' },
      { header: 'USD/month', value: (a) => a.monthly_cost_usd.toFixed(4), align: 'right' },
      { header: 'Last used', value: (a) => a.last_used_at ?? a.created_at },
    ], report.items as ArchivalReview['candidates'])
  }
}

/** The body of every `lora cleanup X`: exit 1 when something could not be handled. */
export async function runCleanupCommand(name: TaskName, opts: CleanupOptions, ctx: Context): Promise<ExitCode> {
  const report = await runTask(ctx, name, {
    dryRun: opts.dryRun ?? false,
    yes: opts.yes ?? false,
    ...(opts.olderThan ? { olderThanMs: opts.olderThan } : {}),
    ...(opts.unusedFor ? { unusedForMs: opts.unusedFor } : {}),
  })
  if (!report) {
    ctx.io.err('nothing was changed')
    return ExitCode.failed
  }
  if (opts.json) ctx.io.json(report)
  else {
    printReport(ctx, report)
    await printItems(ctx, report)
  }
  return report.failed > 0 ? ExitCode.failed : ExitCode.ok
}

/** `lora cleanup all`: every task in turn, one confirmation for all on a terminal. */
export async function runAllCleanups(opts: CleanupOptions, ctx: Context): Promise<ExitCode> {
  const { confirmAction } = await import('../io/confirm.js')
  const question = 'Run every cleanup (orphans, validation images, notifications, uploads, archival review)?'
  if (!opts.dryRun && !(await confirmAction(ctx, { action: 'Running every cleanup', question, yes: opts.yes ?? false }))) {
    ctx.io.err('nothing was changed')
    return ExitCode.failed
  }
  const reports: TaskReport[] = []
  for (const name of TASK_NAMES) {
    const report = await runTask(ctx, name, {
      dryRun: opts.dryRun ?? false,
      yes: true,
      confirmed: true,
      ...(opts.olderThan ? { olderThanMs: opts.olderThan } : {}),
      ...(opts.unusedFor ? { unusedForMs: opts.unusedFor } : {}),
    })
    reports.push(report!)
    if (!opts.json) printReport(ctx, report!)
  }
  if (opts.json) ctx.io.json({ tasks: reports })
  return reports.some((r) => r.failed > 0) ? ExitCode.failed : ExitCode.ok
}
