import { z } from 'zod'
import type { Context } from '../src/context.js'
import { formatDuration } from '../src/config/duration.js'
import { PERIODS, SECTIONS, type Period, type Section } from '../src/metrics/collect.js'
import { ExitCode } from '../src/errors.js'
import { duration, flag, json, optionsOf } from '../src/flags.js'

const MIN_WATCH_MS = 1_000
const DEFAULT_WATCH_MS = 10_000

export const flags = {
  period: flag(
    '--period <period>',
    'window of every figure: 1h, 24h, 7d or 30d (default: each figure its own)',
    z
      .string()
      .optional()
      .transform((value, ctx) => {
        if (value === undefined) return undefined
        if (!(value in PERIODS)) {
          ctx.addIssue({ code: 'custom', message: `expected one of ${Object.keys(PERIODS).join(', ')}, got "${value}"` })
          return z.NEVER
        }
        return value as Period
      }),
  ),
  // `--watch` alone refreshes every 10 s; `--watch 30s` sets the interval.
  watch: flag(
    '--watch [interval]',
    'refresh every interval (default 10s) until Ctrl-C',
    z
      .union([z.boolean(), z.string()])
      .optional()
      .transform((value): string | number | undefined => (value === true ? DEFAULT_WATCH_MS : value === false ? undefined : value))
      .pipe(duration({ min: MIN_WATCH_MS, minText: '1s' }).optional()),
  ),
  summary: flag('--summary', 'print the daily summary (yesterday, UTC) instead', z.boolean().optional()),
  json,
}

export const Options = optionsOf(flags, {
  args: z
    .string()
    .optional()
    .transform((value, ctx) => {
      if (value === undefined) return undefined
      if (!(SECTIONS as readonly string[]).includes(value)) {
        ctx.addIssue({ code: 'custom', message: `unknown section "${value}" (sections: ${SECTIONS.join(', ')})` })
        return z.NEVER
      }
      return value as Section
    }),
}).superRefine((o, ctx) => {
  if (o.summary && (o.args || o.period || o.watch)) {
    ctx.addIssue({ code: 'custom', path: ['summary'], message: '--summary is the daily summary alone: it takes no section, --period or --watch' })
  }
})

export const help = 'Sections: jobs, datasets, cost, storage, errors, users (default: all).'
export const examples = [
  'lora metrics',
  'lora metrics jobs --period 24h',
  'lora metrics --summary --json',
]

/**
 * `lora metrics [SECTION] [--period P] [--watch [10s]] [--summary] [--json]`: the
 * platform's figures (seed 000), the error analysis (seed 002) and the indicators
 * against the profile's thresholds.
 */
export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<ExitCode> {
  const db = await ctx.db()
  const config = await ctx.config()
  if (opts.summary) {
    const { computeDailySummary, summaryText } = await import('../src/metrics/summary.js')
    const summary = await computeDailySummary({ db, config, now: ctx.clock.now() })
    if (opts.json) ctx.io.json(summary)
    else ctx.io.out(summaryText(summary))
    return ExitCode.ok
  }
  const { collectMetrics } = await import('../src/metrics/collect.js')
  const { printMetrics } = await import('../src/metrics/render.js')
  const options = { sections: opts.args ? [opts.args] : [...SECTIONS], period: opts.period ?? null }
  const collect = () => collectMetrics({ db, config, now: ctx.clock.now() }, options)

  if (!opts.watch) {
    const report = await collect()
    if (opts.json) ctx.io.json(report)
    else await printMetrics(ctx.io, report)
    return ExitCode.ok
  }

  ctx.io.err(`refreshing every ${formatDuration(opts.watch)}; Ctrl-C stops`)
  while (!ctx.signal.aborted) {
    const report = await collect()
    if (opts.json) ctx.io.jsonLine(report)
    else {
      // A terminal gets one screen that changes; a pipe gets each snapshot in turn.
      if (ctx.io.stdoutIsTTY) ctx.io.stdout.write('\x1b[2J\x1b[H')
      else ctx.io.out(`--- ${report.generated_at}`)
      await printMetrics(ctx.io, report)
    }
    try {
      await ctx.clock.sleep(opts.watch, ctx.signal)
    } catch {
      break
    }
  }
  // Ctrl-C is how a watch ends.
  return ExitCode.ok
}

