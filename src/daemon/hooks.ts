import type { Context } from '../context.js'
import type { Log } from '../log.js'
import type { CycleReport } from './cycle.js'
import { processIdentity } from '../cluster/index.js'

export type Hook = (ctx: Context, log: Log, report: CycleReport) => Promise<void>

export interface DaemonHooks {
  afterCycle: Hook[]
  /** A cycle failed (the database is down, most likely): alert, from memory if need be. */
  onCycleError(ctx: Context, log: Log, message: string, consecutive: number): Promise<void>
  /** Waits for background work (periodic tasks, alert deliveries) before the daemon exits. */
  drain(): Promise<void>
}

/** Failed cycles in a row before the database-errors alert is raised. */
const CYCLE_FAILURES_BEFORE_ALERT = 3

/**
 * What the daemon runs besides the jobs: the alert rules after every cycle, and the
 * periodic tasks of DESIGN section 7 in the background (with --once, before it exits,
 * for cron).
 */
export async function daemonHooks(_ctx: Context, options: { once: boolean }): Promise<DaemonHooks> {
  const { Scheduler, SCHEDULE } = await import('../maintenance/schedule.js')
  const { evaluateAlerts, raiseAlert, resolveAlert, flushAlertDeliveries } = await import('../alerts/engine.js')
  const scheduler = new Scheduler(SCHEDULE, processIdentity())
  // Raised by this process and not yet resolved: the first successful cycle resolves it
  // (from memory too, when it was raised while the database was down).
  let databaseErrorsRaised = false
  const alerts: Hook = async (ctx, log) => {
    if (databaseErrorsRaised) {
      await resolveAlert(ctx, { rule: 'database-errors' }, { log })
      databaseErrorsRaised = false
    }
    const evaluation = await evaluateAlerts(ctx, { log, awaitDelivery: options.once })
    for (const error of evaluation.errors) log.warn('an alert rule could not be evaluated', { rule: error.rule, error: error.message })
  }
  const periodic: Hook = async (ctx, log) => {
    if (options.once) await scheduler.runDue(ctx, log)
    else scheduler.tick(ctx, log)
  }
  return {
    afterCycle: [alerts, periodic],
    async onCycleError(ctx, log, message, consecutive) {
      if (consecutive < CYCLE_FAILURES_BEFORE_ALERT) return
      databaseErrorsRaised = true
      await raiseAlert(ctx, { rule: 'database-errors', severity: 'critical', message: `The daemon's last ${consecutive} cycles failed: ${message}`, value: consecutive }, { log })
    },
    async drain() {
      await scheduler.drain()
      await flushAlertDeliveries()
    },
  }
}
