import { costSoFar, type GpuConfig } from './presets.js'
import { monthKey, nextMonthStart } from '../month.js'

/**
 * A job's cost (DESIGN section 4): the GPU price x the GPU time the cluster bills when
 * it says, the wall clock since the start otherwise; spread over the months it was
 * incurred in, so a job that runs across the 1st is charged to both months.
 */

export type CostSource = 'cluster' | 'wall_clock'

export interface CostReading {
  amount: number
  source: CostSource
  billedGpuSeconds: number | null
}

/** "YYYY-MM" -> the part of the job's cost charged to that (UTC) month. */
export type CostByMonth = Record<string, number>

export function costReading(
  gpu: Partial<GpuConfig>,
  startedAt: Date | null,
  now: Date,
  prices: Record<string, number>,
  billedGpuSeconds: number | undefined | null,
): CostReading {
  if (billedGpuSeconds !== undefined && billedGpuSeconds !== null) {
    // Billed seconds already count every GPU: no multiplication by num_gpus.
    const rate = gpu.cost_per_gpu_hour ?? (gpu.gpu_type ? prices[gpu.gpu_type] : undefined) ?? 0
    return { amount: cents((rate * billedGpuSeconds) / 3600), source: 'cluster', billedGpuSeconds }
  }
  return { amount: costSoFar(gpu, startedAt, now, prices), source: 'wall_clock', billedGpuSeconds: null }
}

/**
 * Adds the cost incurred between two readings to the months it fell in, in proportion
 * to the time spent in each (GPU time accrues steadily between two polls), and returns
 * the new spread. It always sums to `to.amount` exactly, cent for cent, and always
 * names the month of `to.at`, so even a $0.00 job has a month to be recorded in.
 */
export function spreadCost(previous: CostByMonth, from: { at: Date; amount: number }, to: { at: Date; amount: number }): CostByMonth {
  const spread: CostByMonth = { ...previous }
  const last = monthKey(to.at)
  const increment = to.amount - from.amount
  const span = to.at.getTime() - from.at.getTime()
  if (increment > 0 && span > 0) {
    for (let start = from.at; start < to.at; ) {
      const end = new Date(Math.min(nextMonthStart(start).getTime(), to.at.getTime()))
      const key = monthKey(start)
      if (key !== last) spread[key] = cents((spread[key] ?? 0) + (increment * (end.getTime() - start.getTime())) / span)
      start = end
    }
  }
  // The last month takes what is left: rounding never loses or invents a cent. A
  // reading lower than before (the cluster's figure replacing the wall clock's) is
  // taken back from the latest months first.
  let rest = cents(to.amount - Object.entries(spread).reduce((n, [k, v]) => (k === last ? n : n + v), 0))
  for (const key of Object.keys(spread).filter((k) => k !== last).sort().reverse()) {
    if (rest >= 0) break
    const take = Math.min(spread[key]!, -rest)
    spread[key] = cents(spread[key]! - take)
    rest = cents(rest + take)
  }
  spread[last] = Math.max(0, rest)
  for (const key of Object.keys(spread)) if (key !== last && spread[key] === 0) delete spread[key]
  return spread
}

/** What a job's row holds of its cost so far. */
export interface CostState {
  started_at: Date | null
  current_cost: number
  cost_as_of: Date | null
  cost_by_month: CostByMonth | null
}

/** The job's spread once a new reading is taken: the cost since the last one goes to its months. */
export function advanceCost(job: CostState, now: Date, amount: number): CostByMonth {
  if (!job.started_at) return {}
  const from = job.cost_as_of ? { at: job.cost_as_of, amount: Number(job.current_cost) } : { at: job.started_at, amount: 0 }
  return spreadCost(job.cost_by_month ?? {}, from, { at: now, amount })
}

/** Rounded to the cent, as amounts are stored. */
export function cents(value: number): number {
  return Math.round(value * 100) / 100
}
