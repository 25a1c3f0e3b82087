import { z } from 'zod'
import type { Context } from '../src/context.js'
import { type ExitCode, finished } from '../src/errors.js'
import { resolveJobId } from '../src/ids.js'
import { jobRef, json, optionsOf } from '../src/flags.js'
import { JOB_JSON_HELP } from '../src/jobs/options.js'

export const flags = { json }

export const Options = optionsOf(flags, { args: jobRef })

export const help = `--json prints {"job", "dataset", "metrics" (the last 100 points), "cost_records", "artifact"}.

${JOB_JSON_HELP}`
export const examples = [
  'lora jobs show bfc44f88  # an id prefix',
  'lora jobs show bfc44f88 --json',
]

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
