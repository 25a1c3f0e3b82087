import { z } from 'zod'
import type { Context } from '../src/context.js'
import { ExitCode, LoraError } from '../src/errors.js'
import { parseDuration, formatDuration } from '../src/config/duration.js'
import { DEFAULT_IDLE_MS, SERVICE_LOG, startLocalStack } from '../src/local.js'
import { join } from 'node:path'
import { duration, flag, json, optionsOf, simulatorSpeed } from '../src/flags.js'

export const flags = {
  daemon: flag('--no-daemon', 'do not process jobs here; leave it to `lora daemon`', z.boolean().default(true)),
  idle: flag('--idle <duration>', 'stop after this long with no client and no job in flight (default: never; 10m in the background)', duration({ min: 0 }).optional()),
  speed: flag('--speed <x>', "the simulator's simulated time per real time (default: simulator.speed, LORA_SIMULATOR_SPEED, 6)", simulatorSpeed.optional()),
  background: flag('--background', 'quiet, for the service the first command starts (output in .lora/service.log)', z.boolean().default(false)),
  json,
}

export const Options = optionsOf(flags)

export const help = 'Any lora command starts this service in the background when it needs the stack; run it yourself to watch it.'
export const examples = [
  'lora local start',
  'lora local start --no-daemon --idle 30m',
]

/**
 * Runs the stack's local service until Ctrl-C (or, with --idle, until nothing has
 * used it for that long). `--background` is how the first command starts it: quiet,
 * its output in .lora/service.log, idle after LORA_LOCAL_IDLE (10m by default).
 */
export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<ExitCode> {
  const config = await ctx.config()
  const envIdle = ctx.env.LORA_LOCAL_IDLE ? parseDuration(ctx.env.LORA_LOCAL_IDLE) : null
  const idleMs = opts.idle ?? (opts.background ? (envIdle ?? DEFAULT_IDLE_MS) : null)
  const stack = await startLocalStack(ctx, {
    daemon: opts.daemon,
    idleMs,
    ...(opts.speed !== undefined ? { simulatorSpeed: opts.speed } : {}),
    ...(opts.background ? { log: join(config.stateDir, SERVICE_LOG) } : {}),
  })
  if ('running' in stack) {
    // Two commands started a service at once: the other one serves, which is what was wanted.
    if (opts.background) return ExitCode.ok
    throw new LoraError(`A local service already runs for ${config.stateDir} (pid ${stack.running.pid}).`, {
      code: 'local_running',
      hint: 'Every lora command here uses it already; `lora local stop` stops it.',
    })
  }
  const { info } = stack
  if (opts.background) ctx.io.err(`${new Date(info.since).toISOString()} local service started (pid ${info.pid}) on ${info.socket}`)
  else if (opts.json) ctx.io.jsonLine(info)
  else {
    ctx.io.out(`embedded stack running (pid ${process.pid})`)
    ctx.io.out(`  database  ${info.database}  (served on ${info.socket})`)
    if (info.migrated.length) ctx.io.out(`            migrated: ${info.migrated.join(', ')}`)
    ctx.io.out(`  storage   ${info.storage}${info.storageUrl ? `  (signed URLs on ${info.storageUrl})` : ''}`)
    if (info.simulator) ctx.io.out(`  cluster   ${info.simulator}  (the GPU cluster simulator, at ${info.simulatorSpeed}x: simulated time per real time)`)
    ctx.io.out(`  jobs      ${info.daemon ? 'processed here' : 'left to `lora daemon` (--no-daemon)'}`)
    ctx.io.out('other terminals in this folder and below use it automatically: try `lora health`')
    ctx.io.err(info.idleMs !== null ? `stops after ${formatDuration(info.idleMs)} unused, or on Ctrl-C` : 'press Ctrl-C to stop')
  }
  const reason = await stack.done
  await stack.stop()
  ctx.io.err(reason === 'idle' ? 'embedded stack stopped: idle' : 'embedded stack stopped')
  return ExitCode.ok
}
