import type { Context } from '../context.js'
import { actorName, recordAudit } from '../db/queries/audit.js'
import { confirmAction } from '../io/confirm.js'
import { money } from '../metrics/format.js'
import { cleanOrphans, findOrphans } from './orphans.js'
import { cleanNotifications, reviewArchival } from './simple-cleanups.js'
import { cleanValidationImages, retryFailedUploads } from './storage-cleanups.js'

export const TASK_NAMES = ['orphans', 'validation-images', 'notifications', 'uploads', 'archival-review'] as const
export type TaskName = (typeof TASK_NAMES)[number]

export interface TaskOptions {
  /** For validation-images and notifications. */
  olderThanMs?: number
  /** For archival-review. */
  unusedForMs?: number
}

export const DEFAULT_OLDER_THAN_MS = 30 * 86_400_000
export const DEFAULT_UNUSED_FOR_MS = 180 * 86_400_000

/** What one maintenance task did (or, with --dry-run, would do). */
export interface TaskReport {
  task: TaskName
  dry_run: boolean
  /** Rows or objects changed (or that would change). */
  changed: number
  /** Items that could not be handled (orphans that resisted, uploads that failed). */
  failed: number
  summary: string
  items: unknown[]
}

interface Task {
  destructive: boolean
  /** What would change: for --dry-run and for the confirmation. */
  plan(ctx: Context, o: TaskOptions): Promise<{ count: number; items: unknown[]; summary: string }>
  apply(ctx: Context, o: TaskOptions): Promise<Omit<TaskReport, 'task' | 'dry_run'>>
}

/** Failures a person must handle reach the alert sinks (seed 001: "alert admin"). */
async function alert(ctx: Context, rule: string, subject: string, message: string): Promise<void> {
  const { raiseAlert } = await import('../alerts/engine.js')
  await raiseAlert(ctx, { rule, subject, severity: 'critical', message })
}

const ago = (ctx: Context, ms: number) => new Date(ctx.clock.now().getTime() - ms)

const TASKS: Record<TaskName, Task> = {
  orphans: {
    destructive: true,
    async plan(ctx) {
      const orphans = await findOrphans(ctx)
      const burn = orphans.reduce((s, o) => s + o.hourly_cost_usd, 0)
      return { count: orphans.length, items: orphans, summary: `${orphans.length} orphaned cluster job(s) to cancel, burning an estimated ${money(burn)}/h` }
    },
    async apply(ctx) {
      const outcomes = await cleanOrphans(ctx, await findOrphans(ctx))
      const cleaned = outcomes.filter((o) => o.outcome === 'cleaned').length
      const failed = outcomes.length - cleaned
      for (const o of outcomes.filter((x) => x.outcome === 'failed')) {
        await alert(ctx, 'orphan-cleanup-failed', o.external_job_id, `Orphaned instance ${o.external_job_id} on ${o.cluster} resisted 3 cancel attempts (${o.reason}; ~${money(o.hourly_cost_usd)}/h): ${o.error}`)
      }
      return { changed: cleaned, failed, items: outcomes, summary: `${cleaned} orphan(s) cancelled and confirmed gone${failed ? `, ${failed} resisted 3 attempts` : ''}` }
    },
  },
  'validation-images': {
    destructive: true,
    async plan(ctx, o) {
      const r = await cleanValidationImages(ctx, ago(ctx, o.olderThanMs ?? DEFAULT_OLDER_THAN_MS), true)
      return { count: r.images, items: r.artifacts, summary: `${r.images} validation image(s) of ${r.artifacts.length} artifact(s) to delete` }
    },
    async apply(ctx, o) {
      const r = await cleanValidationImages(ctx, ago(ctx, o.olderThanMs ?? DEFAULT_OLDER_THAN_MS), false)
      return { changed: r.images, failed: 0, items: r.artifacts, summary: `${r.images} validation image(s) of ${r.artifacts.length} artifact(s) deleted` }
    },
  },
  notifications: {
    destructive: true,
    async plan(ctx, o) {
      const n = await cleanNotifications(ctx, ago(ctx, o.olderThanMs ?? DEFAULT_OLDER_THAN_MS), true)
      return { count: n, items: [], summary: `${n} read notification(s) to delete` }
    },
    async apply(ctx, o) {
      const n = await cleanNotifications(ctx, ago(ctx, o.olderThanMs ?? DEFAULT_OLDER_THAN_MS), false)
      return { changed: n, failed: 0, items: [], summary: `${n} read notification(s) deleted` }
    },
  },
  uploads: {
    destructive: false,
    async plan(ctx) {
      const r = await retryFailedUploads(ctx, true)
      return { count: r.pending.length, items: r.pending.map((p) => ({ id: p.id, job_id: p.job_id, upload_attempts: p.upload_attempts })), summary: `${r.pending.length} failed artifact upload(s) to retry` }
    },
    async apply(ctx) {
      const r = await retryFailedUploads(ctx, false)
      const stored = r.results.filter((x) => x.outcome === 'stored').length
      const gaveUp = r.results.filter((x) => x.outcome === 'gave_up').length
      for (const x of r.results.filter((y) => y.outcome === 'gave_up')) {
        await alert(ctx, 'artifact-upload-failed', x.job_id, `The artifacts of job ${x.job_id} could not be copied into storage after ${x.attempts} attempts: ${x.error}. The cluster's URLs are kept in model_artifacts.source_urls.`)
      }
      return { changed: stored, failed: r.results.length - stored, items: r.results, summary: `${stored} artifact upload(s) retried successfully${gaveUp ? `, ${gaveUp} failed their last attempt` : ''}` }
    },
  },
  'archival-review': {
    destructive: false,
    async plan(ctx, o) {
      const r = await reviewArchival(ctx, ago(ctx, o.unusedForMs ?? DEFAULT_UNUSED_FOR_MS))
      return { count: r.candidates.length, items: r.candidates, summary: `${r.candidates.length} artifact(s) unused for the period, ${(r.total_bytes / 1024 ** 3).toFixed(2)} GB, $${r.total_monthly_cost_usd.toFixed(4)}/month` }
    },
    async apply(ctx, o) {
      const p = await TASKS['archival-review'].plan(ctx, o)
      return { changed: 0, failed: 0, items: p.items, summary: `${p.summary} (report only: nothing changed)` }
    },
  },
}

/**
 * Runs one maintenance task as its command does: --dry-run reports exactly what would
 * change; otherwise a destructive task is confirmed on a terminal or needs --yes; the
 * audit log records who did what to how many.
 */
export async function runTask(ctx: Context, name: TaskName, options: TaskOptions & { dryRun: boolean; yes: boolean; confirmed?: boolean }): Promise<TaskReport | null> {
  const task = TASKS[name]
  if (options.dryRun) {
    const plan = await task.plan(ctx, options)
    return { task: name, dry_run: true, changed: plan.count, failed: 0, items: plan.items, summary: `dry run: ${plan.summary}` }
  }
  if (task.destructive && !options.confirmed) {
    const plan = await task.plan(ctx, options)
    if (plan.count === 0) return { task: name, dry_run: false, changed: 0, failed: 0, items: [], summary: `${plan.summary.replace(/^0 /, 'no ')}: nothing to do` }
    if (!(await confirmAction(ctx, { action: `The ${name} cleanup (${plan.summary})`, question: `${plan.summary}. Go ahead?`, yes: options.yes }))) return null
  }
  const result = await task.apply(ctx, options)
  await recordAudit(await ctx.db(), actorName(ctx.env), { action: `cleanup.${name}`, count: result.changed, details: { failed: result.failed, summary: result.summary } }, ctx.clock.now())
  return { task: name, dry_run: false, ...result }
}
