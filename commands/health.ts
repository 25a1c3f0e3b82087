import { z } from 'zod'
import type { Context } from '../src/context.js'
import { ExitCode } from '../src/errors.js'
import { duration, flag, json, optionsOf } from '../src/flags.js'

export const flags = {
  failOn: flag('--fail-on <level>', 'warning or critical: the status that makes the exit code 1', z.enum(['warning', 'critical'], { error: (issue) => `expected warning or critical, got "${String(issue.input)}"` }), 'critical'),
  // Comma-separated; each name is checked against the profile when the command runs.
  check: flag(
    '--check <names>',
    'comma-separated checks to run (default: all)',
    z
      .string()
      .optional()
      .transform((value) => (value === undefined ? undefined : value.split(',').map((s) => s.trim()).filter(Boolean))),
  ),
  timeout: flag('--timeout <duration>', 'time each check may take', duration({ min: 100, minText: '100ms', max: 300_000, maxText: '5m' }), '5s'),
  json,
}

export const Options = optionsOf(flags)

export const help = `Checks: database, schema, buckets, cluster (or cluster:NAME), queue, failed-jobs, stuck-jobs, daemon, orphans, budget, storage.
Exit codes: 0 no check reaches --fail-on; 1 one does; 2 usage or configuration error.`
export const examples = [
  'lora health',
  'lora health --fail-on warning --json  # a deploy gate in CI',
  'lora health --check database,queue --timeout 2s',
]

/**
 * `lora health`: every check concurrently, each under a timeout. Exit 0 when no check
 * reaches --fail-on (critical by default), 1 when one does, 2 for usage or
 * configuration errors.
 */
export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<ExitCode> {
  const { runHealth, healthExitCode } = await import('../src/health/run.js')
  const report = await runHealth(ctx, { ...(opts.check ? { checks: opts.check } : {}), ...(opts.timeout ? { timeoutMs: opts.timeout } : {}) })
  const code = healthExitCode(report, opts.failOn)
  if (opts.json) {
    ctx.io.json({ ...report, fail_on: opts.failOn, exit_code: code })
  } else {
    const { printHealth } = await import('../src/health/render.js')
    await printHealth(ctx.io, report, opts.failOn, code)
  }
  return code
}
