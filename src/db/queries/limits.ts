import type { Queryable } from '../types.js'

export interface UserLimitRow {
  user_id: string
  used: number
  monthly_limit: number
  /** The last reset: a date, or an instant on older platform databases. */
  month_reset_date: string | Date | null
}

const COLUMNS = 'user_id, loras_created_this_month AS used, monthly_limit, month_reset_date'

export async function listUserLimits(q: Queryable, userId: string | null): Promise<UserLimitRow[]> {
  return q.query<UserLimitRow>(
    `SELECT ${COLUMNS} FROM user_training_limits WHERE ($1::uuid IS NULL OR user_id = $1::uuid) ORDER BY user_id`,
    [userId],
  )
}

/** The user's row locked for the change, or null when the user has none yet. */
export async function lockUserLimitRow(q: Queryable, userId: string): Promise<UserLimitRow | null> {
  const [row] = await q.query<UserLimitRow>(`SELECT ${COLUMNS} FROM user_training_limits WHERE user_id = $1 FOR UPDATE`, [userId])
  return row ?? null
}

/**
 * Sets one user's monthly limit; a user with no row yet gets one, counted from this
 * month (monthDay, its first day), so that the reset does not zero it at once.
 */
export async function setMonthlyLimit(q: Queryable, userId: string, monthly: number, monthDay: string, now: Date): Promise<UserLimitRow> {
  const [row] = await q.query<UserLimitRow>(
    `INSERT INTO user_training_limits (user_id, monthly_limit, month_reset_date, created_at, updated_at)
     VALUES ($1, $2, $3::date, $4, $4)
     ON CONFLICT (user_id) DO UPDATE SET monthly_limit = EXCLUDED.monthly_limit, updated_at = EXCLUDED.updated_at
     RETURNING ${COLUMNS}`,
    [userId, monthly, monthDay, now],
  )
  return row!
}
