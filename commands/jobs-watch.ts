import { z } from 'zod'
import type { Context } from '../src/context.js'
import { ExitCode } from '../src/errors.js'
import { jobRef, resolveJobId } from '../src/ids.js'
import { duration } from '../src/jobs/options.js'

export const Options = z.object({
  args: jobRef,
  interval: duration({ min: 100, minText: '100ms' }).default(2_000),
  json: z.boolean().default(false),
})

/** Exit code by the job's end: 0 completed, 1 failed or cancelled, 130 when Ctrl-C stops the watch. */
export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<ExitCode> {
  const { watchJob } = await import('../src/jobs/watch.js')
  return watchJob(ctx, await resolveJobId(await ctx.db(), opts.args), { intervalMs: opts.interval, json: opts.json })
}
