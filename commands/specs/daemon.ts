import type { CommandSpec } from '../registry.js'

export const DAEMON: CommandSpec[] = [
  { path: ['daemon'], summary: 'run the job processor and alert emitter (--once for cron)' },
]
