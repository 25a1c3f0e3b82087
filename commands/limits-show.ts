import { z } from 'zod'
import type { Context } from '../src/context.js'
import { printTable } from '../src/io/output.js'
import { userId } from '../src/jobs/options.js'
import { ExitCode } from '../src/errors.js'

export const Options = z.object({
  user: userId.optional(),
  json: z.boolean(),
})

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
