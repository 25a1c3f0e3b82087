import { z } from 'zod'
import type { Context } from '../src/context.js'
import { type ExitCode, finished } from '../src/errors.js'
import { jobRef, resolveJobId } from '../src/ids.js'

export const Options = z.object({
  args: jobRef,
  json: z.boolean().default(false),
})

export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<ExitCode> {
  const { readJobDetail, printJobDetail, readLogTail } = await import('../src/jobs/show.js')
  const { simulatedSpeed } = await import('../src/cluster/simulated.js')
  const db = await ctx.db()
  const detail = await readJobDetail(db, await resolveJobId(db, opts.args))
  if (opts.json) {
    ctx.io.json(detail)
    return finished(ctx.signal)
  }
  const config = await ctx.config()
  await printJobDetail(ctx.io, detail, {
    now: ctx.clock.now(),
    prices: config.gpuPrices,
    simulatedSpeed: await simulatedSpeed(config, detail.job.cluster_name),
    log: await readLogTail(ctx, detail.job),
  })
  return finished(ctx.signal)
}
