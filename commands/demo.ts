import { z } from 'zod'
import type { Context } from '../src/context.js'

export const Options = z.object({
  speed: z.coerce.number({ error: '--speed must be a number' }).min(1, 'must be at least 1').max(100_000, 'must be at most 100000').default(150),
  keep: z.boolean().default(false),
  json: z.boolean(),
})

export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<number> {
  const { runDemo } = await import('../src/demo/run.js')
  return runDemo(ctx, { speed: opts.speed, keep: opts.keep })
}
