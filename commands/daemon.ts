import { z } from 'zod'
import type { Context } from '../src/context.js'
import { ExitCode } from '../src/errors.js'
import { boundedNumber, duration, flag, json, optionsOf } from '../src/flags.js'

const hostPort = z.string().transform((value, ctx) => {
  const match = /^(?:(\[[^\]]+\]|[^:]+):)?(\d{1,5})$/.exec(value)
  const port = match ? Number(match[2]) : NaN
  if (!match || port > 65535) {
    ctx.addIssue({ code: 'custom', message: `expected HOST:PORT or PORT, got "${value}"` })
    return z.NEVER
  }
  return { host: (match[1] ?? '127.0.0.1').replace(/^\[|\]$/g, ''), port }
})

export const flags = {
  once: flag('--once', 'run one cycle and exit (exit 1 if it failed)', z.boolean().default(false)),
  interval: flag('--interval <duration>', 'time between cycles', duration({ min: 100, minText: '100ms' }), '30s'),
  concurrency: flag('--concurrency <n>', 'GPU cluster calls in flight at once', boundedNumber({ min: 1, max: 512, integer: true }), '32'),
  batch: flag('--batch <n>', 'queued jobs claimed per cycle', boundedNumber({ min: 1, max: 1000, integer: true }), '20'),
  pollLimit: flag('--poll-limit <n>', 'running jobs polled per cycle by this daemon', boundedNumber({ min: 1, max: 100_000, integer: true, text: ['1', '100000'] }), '5000'),
  listen: flag('--listen <host:port>', 'serve /healthz and Prometheus /metrics', hostPort.optional()),
  logFormat: flag('--log-format <format>', 'json or pretty (default: pretty on a terminal, json otherwise)', z.enum(['json', 'pretty'], { error: 'must be json or pretty' }).optional()),
  json: { ...json, description: 'same as --log-format json' },
}

export const Options = optionsOf(flags)

export const help = 'Stops cleanly on SIGTERM/SIGINT: finishes the cycle in flight, releases its leases, exits 0.'
export const examples = [
  'lora daemon',
  'lora daemon --once  # from cron',
  'lora daemon --interval 10s --listen 127.0.0.1:9464 --log-format json',
]

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
