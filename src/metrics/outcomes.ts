import type { Queryable } from '../db/types.js'
import { countJobOutcomes } from '../db/queries/metrics.js'

/**
 * How the jobs created since a moment turned out, over the one denominator that
 * `lora metrics`, the failure-rate alert and `lora health`'s failed-jobs check share:
 * the jobs that finished (completed or failed). Jobs still queued or running, and
 * cancelled ones, are in neither rate, so the two add up to 100 %.
 */
export interface JobOutcomes {
  completed: number
  failed: number
  finished: number
  /** Percent of `finished`, unrounded; null when none finished. */
  successRate: number | null
  failureRate: number | null
}

export async function readJobOutcomes(db: Queryable, since: Date): Promise<JobOutcomes> {
  const { completed, failed } = await countJobOutcomes(db, since)
  const finished = completed + failed
  const share = (part: number) => (finished > 0 ? (part * 100) / finished : null)
  return { completed, failed, finished, successRate: share(completed), failureRate: share(failed) }
}
