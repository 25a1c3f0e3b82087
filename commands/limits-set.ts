import { z } from 'zod'
import type { Context } from '../src/context.js'
import { ExitCode, UsageError } from '../src/errors.js'
import { boundedNumber, userId } from '../src/jobs/options.js'

export const Options = z.object({
  user: userId.optional(),
  monthly: boundedNumber({ min: 0, max: 1_000_000, integer: true, text: ['0', '1000000'] }).optional(),
  dryRun: z.boolean().default(false),
  yes: z.boolean().default(false),
  json: z.boolean().default(false),
})

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
