import { z } from 'zod'
import type { Context } from '../src/context.js'
import { jobId } from '../src/jobs/options.js'

export const Options = z.object({
  args: jobId,
  json: z.boolean().default(false),
})

export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<void> {
  const { readJobDetail, printJobDetail, readLogTail } = await import('../src/jobs/show.js')
  const { simulatedSpeed } = await import('../src/cluster/simulated.js')
  const detail = await readJobDetail(await ctx.db(), opts.args)
  if (opts.json) return ctx.io.json(detail)
  const config = await ctx.config()
  await printJobDetail(ctx.io, detail, {
    now: ctx.clock.now(),
    prices: config.gpuPrices,
    simulatedSpeed: await simulatedSpeed(config, detail.job.cluster_name),
    log: await readLogTail(ctx, detail.job),
  })
}
