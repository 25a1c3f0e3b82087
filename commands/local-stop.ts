import { z } from 'zod'
import type { Context } from '../src/context.js'
import { stopLocalService } from '../src/local.js'
import { type ExitCode, finished } from '../src/errors.js'
import { json, optionsOf } from '../src/flags.js'

export const flags = { json }

export const Options = optionsOf(flags)

export const examples = [
  'lora local stop',
]

/** Stops the stack's local service; nothing to do is not a failure. */
export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<ExitCode> {
  const pid = await stopLocalService(ctx, 30_000)
  if (opts.json) {
    ctx.io.json({ stopped: pid !== null, pid })
    return finished(ctx.signal)
  }
  ctx.io.err(pid === null ? 'no local service is running here' : `local service stopped (pid ${pid})`)
  return finished(ctx.signal)
}
