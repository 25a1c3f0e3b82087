import { z } from 'zod'
import type { Context } from '../src/context.js'
import { stopLocalService } from '../src/local.js'

export const Options = z.object({ json: z.boolean() })

/** Stops the stack's local service; nothing to do is not a failure. */
export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<void> {
  const pid = await stopLocalService(ctx, 30_000)
  if (opts.json) return ctx.io.json({ stopped: pid !== null, pid })
  ctx.io.err(pid === null ? 'no local service is running here' : `local service stopped (pid ${pid})`)
}
