import { z } from 'zod'
import type { Context } from '../src/context.js'
import { actorName, recordAudit } from '../src/db/queries/audit.js'
import { type ExitCode, finished } from '../src/errors.js'
import { json, optionsOf } from '../src/flags.js'

export const flags = { json }

export const Options = optionsOf(flags, { args: z.string().min(1, 'name the cluster') })

export const examples = [
  'lora cluster breaker reset primary',
]

/** On-call closes a cluster's breaker by hand; the audit log keeps who and when. */
export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<ExitCode> {
  const set = await ctx.clusters()
  const handle = set.get(opts.args)
  const was = await handle.breaker.reset()
  await recordAudit(await ctx.db(), actorName(ctx.env), { action: 'cluster.breaker.reset', target: handle.config.name, count: was === 'closed' ? 0 : 1, details: { was } }, ctx.clock.now())
  if (opts.json) {
    ctx.io.json({ cluster: handle.config.name, was, now: 'closed' })
    return finished(ctx.signal)
  }
  ctx.io.out(was === 'closed' ? `breaker of ${handle.config.name} was already closed` : `breaker of ${handle.config.name} reset: ${was.replace('_', '-')} -> closed`)
  return finished(ctx.signal)
}
