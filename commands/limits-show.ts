import { z } from 'zod'
import type { Context } from '../src/context.js'
import { printTable } from '../src/io/output.js'
import { ExitCode } from '../src/errors.js'
import { flag, json, optionsOf, userId } from '../src/flags.js'

export const flags = {
  user: flag('--user <id>', 'only this user', userId.optional()),
  json,
}

export const Options = optionsOf(flags)

export const help = 'Months begin at midnight on the 1st in limits.timezone (UTC by default).'
export const examples = [
  'lora limits show',
  'lora limits show --user 6f1c2b9e-3a4d-4e5f-8a7b-9c0d1e2f3a4b --json',
]

/** `lora limits show`: each user's jobs used of the monthly limit, and when it resets. */
export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<ExitCode> {
  const { showLimits } = await import('../src/maintenance/limits.js')
  const report = await showLimits(ctx, opts.user ?? null)
  if (opts.json) {
    ctx.io.json(report)
    return ExitCode.ok
  }
  await printTable(
    ctx.io,
    [
      { header: 'User', value: (u) => u.user_id },
      { header: 'Used', value: (u) => u.used, align: 'right' },
      { header: 'Limit', value: (u) => u.monthly_limit, align: 'right' },
      { header: 'Remaining', value: (u) => u.remaining, align: 'right' },
      { header: 'Last reset', value: (u) => u.month_reset_date ?? 'never' },
      { header: 'Next reset', value: (u) => u.next_reset },
    ],
    report.users,
    { empty: 'no user has training limits yet' },
  )
  if (ctx.io.stdoutIsTTY) ctx.io.err(`Months begin at midnight on the 1st, ${report.timezone} (limits.timezone).`)
  return ExitCode.ok
}
