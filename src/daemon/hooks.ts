import type { Context } from '../context.js'
import type { Log } from '../log.js'
import type { CycleReport } from './cycle.js'
import { processIdentity } from '../cluster/index.js'

export type Hook = (ctx: Context, log: Log, report: CycleReport) => Promise<void>

export interface DaemonHooks {
  afterCycle: Hook[]
  /** Waits for background work (periodic tasks) before the daemon exits. */
  drain(): Promise<void>
}

/**
 * What the daemon runs besides the jobs: the periodic tasks of DESIGN section 7, in
 * the background (or, with --once, before it exits, for cron).
 */
export async function daemonHooks(_ctx: Context, options: { once: boolean }): Promise<DaemonHooks> {
  const { Scheduler, SCHEDULE } = await import('../maintenance/schedule.js')
  const scheduler = new Scheduler(SCHEDULE, processIdentity())
  const periodic: Hook = async (ctx, log) => {
    if (options.once) await scheduler.runDue(ctx, log)
    else scheduler.tick(ctx, log)
  }
  return { afterCycle: [periodic], drain: () => scheduler.drain() }
}
