import type { Db } from '../db/types.js'
import { lockBudget, readCommittedSpend, setBudgetWaitReasons } from '../db/queries/budget.js'
import { claimQueuedJobs, type ClaimedJob } from '../db/queries/jobs.js'
import { monthStartOf } from '../db/queries/health.js'

import { money } from './format.js'

/**
 * The wait reason of a queued job the month's budget cannot hold (shown in `jobs
 * list`), without the job's own figure: "monthly budget: $X of $Y committed, this job
 * needs $" + its need.
 */
export function budgetWaitPrefix(committed: number, budget: number): string {
  return `monthly budget: ${money(committed)} of ${money(budget)} committed, this job needs $`
}

export interface BudgetedClaim {
  jobs: ClaimedJob[]
  /** Committed spend once these jobs are reserved. */
  committed: number
  /** Queued jobs left waiting for the budget. */
  waiting: number
}

/**
 * Claims queued jobs for one daemon, reserving each one's estimate against the month's
 * budget in the same transaction, under the budget lock: whatever the number of
 * daemons, the jobs they start never commit more than the budget. Jobs that do not fit
 * stay queued, each with the figures of why.
 */
export async function claimWithinBudget(db: Db, daemonId: string, now: Date, leaseMs: number, limit: number, budgetUsd: number): Promise<BudgetedClaim> {
  return db.transaction(async (tx) => {
    // The lock first, then the read: the read's snapshot then includes the last holder's claims.
    await lockBudget(tx)
    const spend = await readCommittedSpend(tx, monthStartOf(now))
    const left = Math.max(0, budgetUsd - spend.committed)
    const jobs = await claimQueuedJobs(tx, daemonId, now, leaseMs, limit, left)
    const committed = Math.round((spend.committed + jobs.reduce((n, j) => n + Number(j.estimated_total_cost), 0)) * 100) / 100
    const waiting = await setBudgetWaitReasons(tx, budgetWaitPrefix(committed, budgetUsd), budgetUsd - committed, now)
    return { jobs, committed, waiting }
  })
}
