import type { Context } from '../context.js'
import { UsageError } from '../errors.js'
import { findLimitsToReset, resetDateType, resetMonthlyLimits, userHasLimits, type LimitToReset } from '../db/queries/maintenance.js'
import { actorName, recordAudit } from '../db/queries/audit.js'

export interface Month {
  /** YYYY-MM */
  label: string
  /** The month's first instant (UTC). */
  start: Date
  /** Its first day, YYYY-MM-DD. */
  day: string
}

export function monthOf(date: Date): Month {
  const start = new Date(Date.UTC(date.getUTCFullYear(), date.getUTCMonth(), 1))
  return { label: start.toISOString().slice(0, 7), start, day: start.toISOString().slice(0, 10) }
}

/** Reads --month: YYYY-MM, a real month, not after the current one. */
export function parseMonth(text: string, now: Date): Month {
  const match = /^(\d{4})-(\d{2})$/.exec(text.trim())
  const month = match ? Number(match[2]) : 0
  if (!match || month < 1 || month > 12) {
    throw new UsageError(`Invalid --month: expected YYYY-MM such as ${monthOf(now).label}, got "${text}".`, { code: 'invalid_option' })
  }
  const parsed = monthOf(new Date(Date.UTC(Number(match[1]), month - 1, 1)))
  if (parsed.start.getTime() > monthOf(now).start.getTime()) {
    throw new UsageError(`Invalid --month: ${parsed.label} has not begun yet (this is ${monthOf(now).label}).`, { code: 'invalid_option' })
  }
  return parsed
}

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
