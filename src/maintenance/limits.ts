import type { Context } from '../context.js'
import { LoraError } from '../errors.js'
import { limitsTimezone } from '../config/schema.js'
import { actorName, recordAudit } from '../db/queries/audit.js'
import { listUserLimits, lockUserLimitRow, setMonthlyLimit, type UserLimitRow } from '../db/queries/limits.js'
import { monthOf } from '../month.js'

/** The users' monthly training limits (seed 001), read and changed without SQL. */

export interface UserLimitView {
  user_id: string
  used: number
  monthly_limit: number
  remaining: number
  /** The last reset, YYYY-MM-DD (null: never reset). */
  month_reset_date: string | null
  /** When the count next starts again at 0: midnight on the 1st in limits.timezone. */
  next_reset: Date
}

export interface LimitsReport {
  timezone: string
  next_reset: Date
  users: UserLimitView[]
}

function resetDay(value: UserLimitRow['month_reset_date']): string | null {
  if (value === null) return null
  return value instanceof Date ? value.toISOString().slice(0, 10) : String(value).slice(0, 10)
}

function view(row: UserLimitRow, nextReset: Date): UserLimitView {
  return {
    user_id: row.user_id,
    used: row.used,
    monthly_limit: row.monthly_limit,
    remaining: Math.max(0, row.monthly_limit - row.used),
    month_reset_date: resetDay(row.month_reset_date),
    next_reset: nextReset,
  }
}

export async function showLimits(ctx: Context, userId: string | null): Promise<LimitsReport> {
  const zone = limitsTimezone(await ctx.config())
  const nextReset = monthOf(ctx.clock.now(), zone).end
  const rows = await listUserLimits(await ctx.db(), userId)
  if (userId && rows.length === 0) {
    throw new LoraError(`User ${userId} has no training limits yet: it has never submitted a job.`, {
      code: 'unknown_user',
      hint: `Give it a limit with \`lora limits set --user ${userId} --monthly N\`.`,
    })
  }
  return { timezone: zone, next_reset: nextReset, users: rows.map((r) => view(r, nextReset)) }
}

export interface LimitChange {
  user_id: string
  previous_limit: number | null
  monthly_limit: number
  used: number
  dry_run: boolean
}

/** What `limits set` would change, read without writing (--dry-run, and the confirmation's question). */
export async function planLimitChange(ctx: Context, userId: string, monthly: number): Promise<LimitChange> {
  const [row] = await listUserLimits(await ctx.db(), userId)
  return { user_id: userId, previous_limit: row?.monthly_limit ?? null, monthly_limit: monthly, used: row?.used ?? 0, dry_run: true }
}

/** Sets the limit and writes the audit entry in one transaction. */
export async function applyLimitChange(ctx: Context, userId: string, monthly: number): Promise<LimitChange> {
  const db = await ctx.db()
  const now = ctx.clock.now()
  const zone = limitsTimezone(await ctx.config())
  return db.transaction(async (tx) => {
    const before = await lockUserLimitRow(tx, userId)
    const after = await setMonthlyLimit(tx, userId, monthly, monthOf(now, zone).day, now)
    await recordAudit(tx, actorName(ctx.env), {
      action: 'limits.set',
      target: userId,
      count: 1,
      details: { from: before?.monthly_limit ?? null, to: monthly, used: after.used },
    }, now)
    return { user_id: userId, previous_limit: before?.monthly_limit ?? null, monthly_limit: after.monthly_limit, used: after.used, dry_run: false }
  })
}
