import { z } from 'zod'
import type { Context } from '../src/context.js'
import { jobRef, resolveJobId } from '../src/ids.js'

export const Options = z.object({
  args: jobRef,
  json: z.boolean().default(false),
})

export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<void> {
  const { readJobDetail, printJobDetail } = await import('../src/jobs/show.js')
  const db = await ctx.db()
  const detail = await readJobDetail(db, await resolveJobId(db, opts.args))
  if (opts.json) return ctx.io.json(detail)
  await printJobDetail(ctx.io, detail, { now: ctx.clock.now(), prices: (await ctx.config()).gpuPrices })
}
