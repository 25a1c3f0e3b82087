import { z } from 'zod'
import type { Context } from '../src/context.js'
import type { ExitCode } from '../src/errors.js'
import { jobRef, resolveJobId } from '../src/ids.js'
import { boundedNumber, duration } from '../src/jobs/options.js'

export const Options = z.object({
  args: jobRef,
  follow: z.boolean().default(false),
  tail: boundedNumber({ min: 1, max: 100_000, integer: true }).optional(),
  interval: duration({ min: 100, minText: '100ms' }).default(2_000),
  json: z.boolean().default(false),
})

/** Exit 0; with --follow, by the job's end as `jobs watch`: 0 completed, 1 failed or cancelled, 130 on Ctrl-C. */
export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<ExitCode> {
  const { printJobLogs } = await import('../src/jobs/logs.js')
  return printJobLogs(ctx, await resolveJobId(await ctx.db(), opts.args), { follow: opts.follow, tail: opts.tail ?? null, json: opts.json, intervalMs: opts.interval })
}
