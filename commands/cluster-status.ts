import { z } from 'zod'
import type { Context } from '../src/context.js'
import { clusterStatuses } from '../src/cluster/status.js'
import { printTable } from '../src/io/output.js'
import { type ExitCode, finished } from '../src/errors.js'
import { json, optionsOf } from '../src/flags.js'

export const flags = { json }

export const Options = optionsOf(flags)

export const examples = [
  'lora cluster status',
  'lora cluster status --json',
]

export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<ExitCode> {
  const statuses = await clusterStatuses(ctx)
  if (opts.json) {
    ctx.io.json({ clusters: statuses })
    return finished(ctx.signal)
  }
  const style = ctx.io.style
  await printTable(ctx.io, [
    { header: 'Cluster', value: (s) => s.name },
    { header: 'URL', value: (s) => s.url },
    { header: 'Reachable', value: (s) => (s.reachable ? 'yes' : 'no'), color: (s, t) => (s.reachable ? style.ok(t) : style.fail(t)) },
    { header: 'Latency ms', value: (s) => s.latency_ms, align: 'right' },
    { header: 'Breaker', value: (s) => s.breaker.state.replace('_', '-'), color: (s, t) => (s.breaker.state === 'closed' ? style.ok(t) : s.breaker.state === 'open' ? style.fail(t) : style.warn(t)) },
    { header: 'Failures', value: (s) => s.breaker.recent_failures, align: 'right', detail: true },
    { header: 'Open until', value: (s) => s.breaker.open_until },
    { header: 'Fallback', value: (s) => s.fallback, detail: true },
  ], statuses)
  for (const s of statuses) if (s.error) ctx.io.err(`${s.name}: ${s.error}`)
  return finished(ctx.signal)
}
