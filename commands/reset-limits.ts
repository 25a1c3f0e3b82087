import { z } from 'zod'
import type { Context } from '../src/context.js'
import { ExitCode, UsageError } from '../src/errors.js'
import { applyReset, planReset } from '../src/maintenance/reset-limits.js'
import { monthOf, parseMonth, zonedParts } from '../src/month.js'
import { limitsTimezone } from '../src/config/schema.js'
import { confirmAction } from '../src/io/confirm.js'
import { printTable } from '../src/io/output.js'
import { dryRun, flag, json, month, optionsOf, userId, yes } from '../src/flags.js'

export const flags = {
  month: { ...month, description: 'the month to reset into (default: this month)' },
  user: flag('--user <id>', 'only this user', userId.optional()),
  dryRun,
  yes,
  force: flag('--force', 'reset on a day other than the 1st', z.boolean().default(false)),
  json,
}

export const Options = optionsOf(flags)

export const help = 'Users whose month_reset_date lies in a previous month (or is missing) start again at 0. Running it twice in a month changes nothing.'
export const examples = [
  'lora reset-limits --dry-run',
  'lora reset-limits --yes  # the 1st of the month, from cron',
  'lora reset-limits --user 6f1c2b9e-3a4d-4e5f-8a7b-9c0d1e2f3a4b --force --yes',
]

const ordinal = (n: number) => `${n}${n % 10 === 1 && n !== 11 ? 'st' : n % 10 === 2 && n !== 12 ? 'nd' : n % 10 === 3 && n !== 13 ? 'rd' : 'th'}`

export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<ExitCode> {
  const now = ctx.clock.now()
  // The month begins at midnight on the 1st in limits.timezone (UTC by default).
  const zone = limitsTimezone(await ctx.config())
  const month = opts.month ? parseMonth(opts.month, now, zone) : monthOf(now, zone)
  const today = zonedParts(now, zone).day
  // Run from cron on the 1st; on another day the intent must be named.
  if (!opts.month && !opts.force && !opts.dryRun && today !== 1) {
    throw new UsageError(`Today is the ${ordinal(today)} (${zone}), not the 1st: the monthly reset runs on the 1st.`, {
      code: 'not_first_of_month',
      hint: `Pass --month ${month.label} (or --force) to reset now.`,
    })
  }
  const plan = await planReset(ctx, month, opts.user ?? null)
  if (opts.dryRun) {
    if (opts.json) ctx.io.json({ month: month.label, dry_run: true, users: plan.users })
    else {
      ctx.io.out(`dry run: ${plan.users.length} user(s) would be reset for ${month.label}`)
      await printTable(ctx.io, [
        { header: 'User', value: (u) => u.user_id },
        { header: 'Jobs this month', value: (u) => u.loras_created_this_month, align: 'right' },
        { header: 'Last reset', value: (u) => (u.month_reset_date instanceof Date ? u.month_reset_date : u.month_reset_date ?? 'never') },
      ], plan.users)
    }
    return ExitCode.ok
  }
  const what = `the monthly count of ${plan.users.length} user(s) for ${month.label}`
  if (plan.users.length > 0 && !(await confirmAction(ctx, { action: `Resetting ${what}`, question: `Reset ${what}?`, yes: opts.yes }))) {
    ctx.io.err('nothing was changed')
    return ExitCode.failed
  }
  const reset = plan.users.length > 0 ? await applyReset(ctx, month, opts.user ?? null) : []
  if (opts.json) ctx.io.json({ month: month.label, dry_run: false, reset: reset.length, users: reset.map((u) => u.user_id) })
  else ctx.io.out(reset.length ? `reset ${reset.length} user(s) for ${month.label}` : `nothing to reset for ${month.label}: every user is already counted from this month`)
  return ExitCode.ok
}
