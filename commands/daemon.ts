import { z } from 'zod'
import type { Context } from '../src/context.js'
import { parseDuration } from '../src/config/duration.js'
import { ExitCode } from '../src/errors.js'

const hostPort = z.string().transform((value, ctx) => {
  const match = /^(?:(\[[^\]]+\]|[^:]+):)?(\d{1,5})$/.exec(value)
  const port = match ? Number(match[2]) : NaN
  if (!match || port > 65535) {
    ctx.addIssue({ code: 'custom', message: `expected HOST:PORT or PORT, got "${value}"` })
    return z.NEVER
  }
  return { host: (match[1] ?? '127.0.0.1').replace(/^\[|\]$/g, ''), port }
})

export const Options = z.object({
  once: z.boolean().default(false),
  interval: z.string().default('30s').transform((value, ctx) => {
    const ms = parseDuration(value)
    if (ms === null || ms < 100) {
      ctx.addIssue({ code: 'custom', message: `expected a duration of at least 100ms such as 30s, got "${value}"` })
      return z.NEVER
    }
    return ms
  }),
  concurrency: z.coerce.number().int().min(1, 'must be at least 1').max(512, 'must be at most 512').default(32),
  batch: z.coerce.number().int().min(1, 'must be at least 1').max(1000, 'must be at most 1000').default(20),
  pollLimit: z.coerce.number().int().min(1, 'must be at least 1').max(100_000).default(5000),
  listen: hostPort.optional(),
  logFormat: z.enum(['json', 'pretty'], { error: 'must be json or pretty' }).optional(),
  json: z.boolean(),
})

export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<ExitCode> {
  const { runDaemon } = await import('../src/daemon/daemon.js')
  const { daemonHooks } = await import('../src/daemon/hooks.js')
  return runDaemon(ctx, {
    once: opts.once,
    intervalMs: opts.interval,
    concurrency: opts.concurrency,
    batch: opts.batch,
    pollLimit: opts.pollLimit,
    ...(opts.listen ? { listen: opts.listen } : {}),
    ...(opts.logFormat ? { logFormat: opts.logFormat } : opts.json ? { logFormat: 'json' as const } : {}),
    hooks: await daemonHooks(ctx, { once: opts.once }),
  })
}
