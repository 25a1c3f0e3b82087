import { z } from 'zod'
import type { Context } from '../src/context.js'
import { localStatus } from '../src/local.js'
import { formatDuration } from '../src/config/duration.js'
import { type ExitCode, finished } from '../src/errors.js'
import { json, optionsOf } from '../src/flags.js'

export const flags = { json }

export const Options = optionsOf(flags)

export const examples = [
  'lora local status',
  'lora local status --json',
]

/** Whether the stack's local service runs, and what it serves. Exit 0 either way. */
export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<ExitCode> {
  const status = await localStatus(await ctx.config())
  if (opts.json) {
    ctx.io.json(status)
    return finished(ctx.signal)
  }
  if (!status.running) {
    ctx.io.out(`not running\t${status.stack}`)
    ctx.io.err('the next lora command here starts it (or `lora local start`)')
    return finished(ctx.signal)
  }
  const rows: [string, string][] = [
    ['state', 'running'],
    ['pid', String(status.pid)],
    ['stack', status.stack],
    ['socket', status.socket ?? '-'],
    ['commands', status.command_socket ?? '-'],
    ['storage_url', status.storage_url ?? '-'],
    ['simulator', status.simulator ?? '-'],
    ['simulator_speed', status.simulator_speed === null ? '-' : `${status.simulator_speed}x`],
    ['jobs', status.daemon === null ? '-' : status.daemon ? 'processed here' : 'left to lora daemon'],
    ['idle_exit', status.idle_ms === null ? 'never' : formatDuration(status.idle_ms)],
    ['since', status.since ?? '-'],
    ['log', status.log ?? '-'],
  ]
  for (const [key, value] of rows) ctx.io.out(`${key}\t${value}`)
  return finished(ctx.signal)
}
