import type { Context } from '../context.js'
import type { Log } from '../log.js'
import type { CycleReport } from './cycle.js'

export type Hook = (ctx: Context, log: Log, report: CycleReport) => Promise<void>

/** What the daemon runs after each cycle besides the jobs: alerts, periodic tasks. */
export async function daemonHooks(_ctx: Context): Promise<Hook[]> {
  return []
}
