import type { Db } from '../db/types.js'
import { lockBudget, readCommittedSpend, setBudgetWaitReasons } from '../db/queries/budget.js'
import { type ClaimedJob, claimQueuedJobs } from '../db/queries/claim.js'
import { monthStartOf } from '../month.js'
import { readSeries } from '../metrics/series.js'

import { money } from '../metrics/format.js'
import { cents } from './cost.js'

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
    const committed = cents(spend.committed + jobs.reduce((n, j) => n + Number(j.estimated_total_cost), 0))
    const waiting = await setBudgetWaitReasons(tx, budgetWaitPrefix(committed, budgetUsd), budgetUsd - committed, now)
    return { jobs, committed, waiting }
  })
}

export interface BudgetReport {
  month: string
  budget: number
  /** Cost records charged to the month. */
  recorded: number
  /** What active jobs have cost so far this month (the current month only). */
  running: number
  /** What active jobs hold against the budget: the larger of estimate and cost so far. */
  reserved: number
  /** recorded + reserved: what claims are measured against. */
  committed: number
  remaining: number
  committed_percent: number
  /** End-of-month spend at the month's daily rate so far (a past month: what it spent). */
  projected: number
  daily: { day: string; cost: number }[]
}

const DAY = 86_400_000

/** `lora budget show`: the month's budget and what holds it, from the same figures the claims use. */
export async function budgetReport(db: Db, budgetUsd: number, month: { label: string; start: Date; end: Date }, now: Date): Promise<BudgetReport> {
  const current = now.getTime() >= month.start.getTime() && now.getTime() < month.end.getTime()
  const until = current ? now : new Date(month.end.getTime() - 1)
  const [spend, days] = await Promise.all([readCommittedSpend(db, month.start), readSeries(db, 'cost', month.start, until, 'day')])
  const running = current ? spend.running : 0
  const reserved = current ? spend.reserved : 0
  const committed = cents(spend.recorded + reserved)
  const elapsedDays = Math.max(1 / 24, (until.getTime() - month.start.getTime()) / DAY)
  const monthDays = (month.end.getTime() - month.start.getTime()) / DAY
  const spent = spend.recorded + running
  return {
    month: month.label,
    budget: budgetUsd,
    recorded: spend.recorded,
    running,
    reserved,
    committed,
    remaining: cents(Math.max(0, budgetUsd - committed)),
    committed_percent: Math.round((committed / budgetUsd) * 1000) / 10,
    projected: current ? cents((spent / elapsedDays) * monthDays) : spend.recorded,
    daily: days.map((d) => ({ day: new Date(d.start).toISOString().slice(0, 10), cost: cents(d.values.total_cost ?? 0) })),
  }
}
