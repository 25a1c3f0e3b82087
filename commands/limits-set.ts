import { z } from 'zod'
import type { Context } from '../src/context.js'
import { ExitCode, UsageError } from '../src/errors.js'
import { boundedNumber, dryRun, flag, json, optionsOf, userId, yes } from '../src/flags.js'

export const flags = {
  user: flag('--user <id>', 'the user (a UUID)', userId.optional()),
  monthly: flag('--monthly <n>', 'the new limit: a whole number of jobs, 0 or more', boundedNumber({ min: 0, max: 1_000_000, integer: true, text: ['0', '1000000'] }).optional()),
  dryRun,
  yes,
  json,
}

export const Options = optionsOf(flags)

export const help = 'On a terminal it asks first; otherwise it needs --yes. A user with no limits row gets one. Written to the audit log.'
export const examples = [
  'lora limits set --user 6f1c2b9e-3a4d-4e5f-8a7b-9c0d1e2f3a4b --monthly 20 --dry-run',
  'lora limits set --user 6f1c2b9e-3a4d-4e5f-8a7b-9c0d1e2f3a4b --monthly 20 --yes',
]

/** `lora limits set`: one user's monthly job limit, audited. */
export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<ExitCode> {
  if (!opts.user) throw new UsageError('Missing --user: name the user whose limit to set (a UUID).', { code: 'missing_option' })
  if (opts.monthly === undefined) throw new UsageError('Missing --monthly: give the new monthly limit, a whole number of jobs.', { code: 'missing_option' })
  const { applyLimitChange, planLimitChange } = await import('../src/maintenance/limits.js')
  const { confirmAction } = await import('../src/io/confirm.js')
  const plan = await planLimitChange(ctx, opts.user, opts.monthly)
  const from = plan.previous_limit === null ? 'no limit row (the default)' : String(plan.previous_limit)
  if (opts.dryRun) {
    if (opts.json) ctx.io.json(plan)
    else ctx.io.out(`dry run: user ${plan.user_id}'s monthly limit would go from ${from} to ${plan.monthly_limit} (${plan.used} used this month)`)
    return ExitCode.ok
  }
  const described = `user ${plan.user_id}'s monthly limit from ${from} to ${plan.monthly_limit}`
  if (!(await confirmAction(ctx, { action: `Setting ${described}`, question: `Set ${described}?`, yes: opts.yes }))) {
    ctx.io.err('nothing was changed')
    return ExitCode.failed
  }
  const change = await applyLimitChange(ctx, opts.user, opts.monthly)
  if (opts.json) ctx.io.json(change)
  else ctx.io.out(`user ${change.user_id}: monthly limit ${change.previous_limit ?? 'default'} -> ${change.monthly_limit} (${change.used} used this month)`)
  return ExitCode.ok
}
