import type { Queryable } from '../types.js'
import { cents } from '../../jobs/cost.js'
import { monthKey, nextMonthStart } from '../../month.js'

/**
 * The month's budget (DESIGN section 4). Committed spend = the costs recorded in the
 * month + for every initializing or running job the larger of its estimate and its
 * cost so far (this month's part of both). Claims read and reserve it under one
 * advisory lock, so any number of daemons together stay within the budget.
 */

/** Serialises budget reservations: the claim reads committed spend and adds to it under this lock. */
export async function lockBudget(q: Queryable): Promise<void> {
  await q.query('SELECT pg_advisory_xact_lock($1)', [0x10a4_0002])
}

/**
 * This month's part of an active job's cost so far: its entry in cost_by_month, or all
 * of current_cost for a job whose spread was never written.
 */
export function monthPartSql(monthKey: string): string {
  return `CASE WHEN cost_by_month = '{}'::jsonb THEN current_cost ELSE coalesce((cost_by_month->>${monthKey})::numeric, 0) END`
}

export interface CommittedSpend {
  /** Cost records charged to the month. */
  recorded: number
  /** What initializing and running jobs hold: the larger of estimate and cost so far. */
  reserved: number
  /** What they have actually cost so far this month. */
  running: number
  committed: number
}

/** $1 the month's first instant, $2 the next month's, $3 the month as "YYYY-MM". */
export const COMMITTED_SPEND_SQL = `
  SELECT (SELECT coalesce(sum(amount), 0) FROM cost_records WHERE recorded_at >= $1 AND recorded_at < $2)::float8 AS recorded,
         coalesce(sum(greatest(coalesce(estimated_total_cost, 0) - (current_cost - part), part)), 0)::float8 AS reserved,
         coalesce(sum(part), 0)::float8 AS running
    FROM (SELECT estimated_total_cost, current_cost, ${monthPartSql('$3')} AS part
            FROM training_jobs WHERE status IN ('initializing', 'running')) active`

export async function readCommittedSpend(q: Queryable, monthStart: Date): Promise<CommittedSpend> {
  const [row] = await q.query<{ recorded: number; reserved: number; running: number }>(COMMITTED_SPEND_SQL, [
    monthStart,
    nextMonthStart(monthStart),
    monthKey(monthStart),
  ])
  const recorded = cents(row!.recorded)
  const reserved = cents(row!.reserved)
  return { recorded, reserved, running: cents(row!.running), committed: cents(recorded + reserved) }
}

/**
 * After a claim: every queued job that no longer fits says so, with the figures
 * ("monthly budget: $X of $Y committed, this job needs $Z"); the others lose any
 * earlier reason, since the cluster took the queue. Rows another transaction holds
 * are skipped (the next cycle writes them), and unchanged rows are not rewritten.
 * Returns how many queued jobs wait for the budget.
 */
export async function setBudgetWaitReasons(q: Queryable, reasonPrefix: string, left: number, now: Date): Promise<number> {
  const [row] = await q.query<{ waiting: number }>(
    `WITH queued AS (
       SELECT id, CASE WHEN coalesce(estimated_total_cost, 0) > $2::numeric
                       THEN $1::text || to_char(coalesce(estimated_total_cost, 0), 'FM999999990.00') END AS reason
         FROM training_jobs WHERE status = 'queued' FOR UPDATE SKIP LOCKED
     ),
     upd AS (
       UPDATE training_jobs j SET wait_reason = queued.reason, updated_at = $3
         FROM queued WHERE j.id = queued.id AND j.wait_reason IS DISTINCT FROM queued.reason
     )
     SELECT count(*) FILTER (WHERE reason IS NOT NULL)::int AS waiting FROM queued`,
    [reasonPrefix, left, now],
  )
  return row?.waiting ?? 0
}

export interface CostOverrun {
  id: string
  current_cost: number
  estimated_total_cost: number
}

/** Active jobs whose cost so far passed `ratio` x their estimate: the only way past the budget. */
export async function listCostOverruns(q: Queryable, ratio: number, limit: number): Promise<CostOverrun[]> {
  return q.query<CostOverrun>(
    `SELECT id, current_cost::float8 AS current_cost, estimated_total_cost::float8 AS estimated_total_cost FROM training_jobs
      WHERE status IN ('initializing', 'running') AND estimated_total_cost > 0 AND current_cost > $1::numeric * estimated_total_cost
      ORDER BY current_cost DESC, id LIMIT $2`,
    [ratio, limit],
  )
}
