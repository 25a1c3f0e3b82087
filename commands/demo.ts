import { z } from 'zod'
import type { Context } from '../src/context.js'
import { Options as DaemonOptions } from './daemon.js'
import { ExitCode } from '../src/errors.js'

export const Options = z.object({
  speed: z.coerce.number({ error: '--speed must be a number' }).min(1, 'must be at least 1').max(100_000, 'must be at most 100000').default(150),
  keep: z.boolean().default(false),
  // The demo's daemon cycles, and its watch refreshes, at the daemon's own flag schema.
  interval: DaemonOptions.shape.interval.default(1_000),
  json: z.boolean(),
})

export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<ExitCode> {
  const { runDemo } = await import('../src/demo/run.js')
  return runDemo(ctx, { speed: opts.speed, keep: opts.keep, intervalMs: opts.interval })
}
