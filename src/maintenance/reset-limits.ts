import type { Context } from '../context.js'
import { UsageError } from '../errors.js'
import type { Month } from '../month.js'
import { findLimitsToReset, resetDateType, resetMonthlyLimits, userHasLimits, type LimitToReset } from '../db/queries/maintenance.js'
import { actorName, recordAudit } from '../db/queries/audit.js'

export interface ResetPlan {
  month: Month
  users: LimitToReset[]
}

export async function planReset(ctx: Context, month: Month, userId: string | null): Promise<ResetPlan> {
  const db = await ctx.db()
  if (userId && !(await userHasLimits(db, userId))) {
    throw new UsageError(`User ${userId} has no training limits row: nothing to reset.`, { code: 'unknown_user' })
  }
  const type = await resetDateType(db)
  return { month, users: await findLimitsToReset(db, type, month.start, month.day, userId) }
}

/**
 * The monthly reset of seed 001: users whose month_reset_date lies before the month
 * (or is missing) start again at 0, dated this month. Guarded by the date, so a second
 * run in the month changes nothing.
 */
export async function applyReset(ctx: Context, month: Month, userId: string | null): Promise<LimitToReset[]> {
  const db = await ctx.db()
  const type = await resetDateType(db)
  return db.transaction(async (tx) => {
    const reset = await resetMonthlyLimits(tx, type, month.start, month.day, userId, ctx.clock.now())
    await recordAudit(tx, actorName(ctx.env), { action: 'reset-limits', target: userId ?? `all users, ${month.label}`, count: reset.length, details: { month: month.label } }, ctx.clock.now())
    return reset
  })
}
