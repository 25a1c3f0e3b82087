import type { Context } from '../context.js'
import type { Log } from '../log.js'
import { claimTaskSlot, finishTaskRun } from '../db/queries/tasks.js'
import { runTask, type TaskName } from './tasks.js'
import { applyReset } from './reset-limits.js'
import { monthOf } from '../month.js'
import { limitsTimezone } from '../config/schema.js'

export type ScheduledTaskName = TaskName | 'reset-limits' | 'daily-summary' | 'costs-reconcile'

export interface ScheduledTask {
  name: ScheduledTaskName
  /** The latest slot at or before now; `zone` is limits.timezone, for the monthly reset. */
  slot(now: Date, zone: string): Date
  run(ctx: Context, log: Log): Promise<string>
}

const HOUR = 3_600_000
const utc = (y: number, m: number, d: number, h = 0) => new Date(Date.UTC(y, m, d, h))

export const hourly = (now: Date) => new Date(Math.floor(now.getTime() / HOUR) * HOUR)
export const dailyAt = (hour: number) => (now: Date) => {
  const today = utc(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), hour)
  return today.getTime() <= now.getTime() ? today : new Date(today.getTime() - 24 * HOUR)
}
export const monthlyAt = (hour: number) => (now: Date) => {
  const first = utc(now.getUTCFullYear(), now.getUTCMonth(), 1, hour)
  return first.getTime() <= now.getTime() ? first : utc(now.getUTCFullYear(), now.getUTCMonth() - 1, 1, hour)
}

const cleanup = (name: TaskName) => async (ctx: Context) => {
  const report = await runTask(ctx, name, { dryRun: false, yes: true, confirmed: true })
  return report!.summary
}

/** DESIGN section 7's periodic tasks and when they run (UTC; the limit reset in limits.timezone). */
export const SCHEDULE: ScheduledTask[] = [
  { name: 'orphans', slot: hourly, run: cleanup('orphans') },
  { name: 'uploads', slot: hourly, run: cleanup('uploads') },
  { name: 'validation-images', slot: dailyAt(3), run: cleanup('validation-images') },
  { name: 'notifications', slot: dailyAt(3), run: cleanup('notifications') },
  {
    name: 'reset-limits',
    // Midnight on the 1st where the users' months begin (limits.timezone).
    slot: (now, zone) => monthOf(now, zone).start,
    run: async (ctx) => {
      const month = monthOf(ctx.clock.now(), limitsTimezone(await ctx.config()))
      const reset = await applyReset(ctx, month, null)
      return `reset ${reset.length} user(s) for ${month.label}`
    },
  },
  { name: 'archival-review', slot: monthlyAt(4), run: cleanup('archival-review') },
  {
    name: 'costs-reconcile',
    slot: dailyAt(6),
    run: async (ctx) => {
      const { reconcileAndAlert } = await import('../jobs/reconcile.js')
      return reconcileAndAlert(ctx)
    },
  },
  {
    name: 'daily-summary',
    slot: dailyAt(9),
    run: async (ctx, log) => {
      const { dailySummary } = await import('../alerts/engine.js')
      const { text } = await dailySummary(ctx, { log })
      return text.split('\n')[0] ?? 'daily summary sent'
    },
  },
]

/**
 * Runs the periodic tasks that are due, each claimed in the database so that of many
 * daemons exactly one runs it per slot. Tasks run beside the job cycles, not in them,
 * so a slow cleanup never delays job processing; one task at a time per daemon.
 */
export class Scheduler {
  private running: Promise<void> | null = null

  constructor(
    private readonly tasks: ScheduledTask[],
    private readonly runBy: string,
  ) {}

  /** Starts the due tasks in the background unless a previous batch still runs. */
  tick(ctx: Context, log: Log): void {
    if (this.running) return
    this.running = this.runDue(ctx, log)
      .then(() => undefined)
      .finally(() => {
        this.running = null
      })
  }

  /** Runs the due tasks now, and resolves when they are done (tests, --once). */
  async runDue(ctx: Context, log: Log): Promise<ScheduledTaskName[]> {
    const db = await ctx.db()
    const ran: ScheduledTaskName[] = []
    const zone = limitsTimezone(await ctx.config())
    for (const task of this.tasks) {
      if (ctx.signal.aborted) break
      const now = ctx.clock.now()
      if (!(await claimTaskSlot(db, task.name, task.slot(now, zone), now, this.runBy))) continue
      ran.push(task.name)
      try {
        const summary = await task.run(ctx, log)
        await finishTaskRun(db, task.name, ctx.clock.now(), null)
        log.info('periodic task done', { task: task.name, summary })
      } catch (error) {
        const message = (error as Error).message
        await finishTaskRun(db, task.name, ctx.clock.now(), message).catch(() => {})
        log.error('periodic task failed', { task: task.name, error: message })
      }
    }
    return ran
  }

  /** Waits for tasks in flight: a stopping daemon finishes them. */
  async drain(): Promise<void> {
    await this.running
  }
}
