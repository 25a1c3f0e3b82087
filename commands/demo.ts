import { z } from 'zod'
import type { Context } from '../src/context.js'
import { Options as DaemonOptions } from './daemon.js'
import { ExitCode } from '../src/errors.js'
import { boundedNumber } from '../src/jobs/options.js'

export const Options = z.object({
  // At least 1x: slower than real time, the tour would not end.
  speed: boundedNumber({ min: 1, max: 100_000 }).default(150),
  keep: z.boolean().default(false),
  // The demo's daemon cycles, and its watch refreshes, at the daemon's own flag schema.
  interval: DaemonOptions.shape.interval.default(1_000),
  json: z.boolean(),
})

export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<ExitCode> {
  const { runDemo } = await import('../src/demo/run.js')
  return runDemo(ctx, { speed: opts.speed, keep: opts.keep, intervalMs: opts.interval })
}
