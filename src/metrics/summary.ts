import type { Queryable } from '../db/types.js'
import type { ResolvedConfig } from '../config/schema.js'
import {
  countJobsFinishedBetween,
  countNewUsersBetween,
  listFailedJobsBetween,
  sumCostPerJob,
  sumDatasetStorage,
  sumModelStorage,
} from '../db/queries/metrics.js'
import { countFiringAlerts } from '../db/queries/alerts.js'
import { storageQuotaBytes } from '../alerts/rules.js'
import { GB, gigabytes, money, percent, round } from './format.js'

const D = 86_400_000
/** Failed jobs listed by name in the summary; the count covers them all. */
const FAILED_LISTED = 10

/** The daily summary of seed 000, for the UTC day before `now`. */
export interface DailySummary {
  /** The day summarised, YYYY-MM-DD (UTC). */
  date: string
  jobs_completed: number
  jobs_failed: number
  avg_cost_per_job: number | null
  total_cost: number
  storage: { used_bytes: number; used_gb: number; quota_bytes: number; used_percent: number }
  failed_jobs: { id: string; user_id: string; error_type: string | null; error_message: string | null; completed_at: string }[]
  new_users: number
  alerts_firing: number
}

export async function computeDailySummary(input: { db: Queryable; config: ResolvedConfig; now: Date }): Promise<DailySummary> {
  const { db, config, now } = input
  const to = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate()))
  const from = new Date(to.getTime() - D)
  const [finished, cost, datasets, models, failed, newUsers, firing] = await Promise.all([
    countJobsFinishedBetween(db, from, to),
    sumCostPerJob(db, from, to),
    sumDatasetStorage(db),
    sumModelStorage(db),
    listFailedJobsBetween(db, from, to, FAILED_LISTED),
    countNewUsersBetween(db, from, to),
    countFiringAlerts(db),
  ])
  const used = datasets.bytes + models.bytes
  const quota = storageQuotaBytes(config)
  return {
    date: from.toISOString().slice(0, 10),
    jobs_completed: finished.completed,
    jobs_failed: finished.failed,
    avg_cost_per_job: cost.jobs > 0 ? round(cost.total_cost / cost.jobs) : null,
    total_cost: round(cost.total_cost) ?? 0,
    storage: { used_bytes: used, used_gb: round(used / GB, 3) ?? 0, quota_bytes: quota, used_percent: round((used * 100) / quota) ?? 0 },
    failed_jobs: failed.map((j) => ({ ...j, completed_at: j.completed_at.toISOString() })),
    new_users: newUsers,
    alerts_firing: firing,
  }
}

/** The summary as text: a headline, then one line per figure (Slack, the log, stdout). */
export function summaryText(s: DailySummary): string {
  const lines = [
    `Daily summary for ${s.date} (UTC)`,
    `Jobs completed: ${s.jobs_completed}`,
    `Average cost per job: ${s.avg_cost_per_job === null ? '-' : money(s.avg_cost_per_job)} (${money(s.total_cost)} in total)`,
    `Total storage used: ${gigabytes(s.storage.used_bytes)} of ${gigabytes(s.storage.quota_bytes, 0)} (${percent(s.storage.used_percent)})`,
    `Failed jobs requiring attention: ${s.jobs_failed}`,
    ...s.failed_jobs.map((j) => `  - ${j.id} ${j.error_type ?? 'UNKNOWN_ERROR'}: ${(j.error_message ?? '').replace(/\s+/g, ' ').slice(0, 120)}`),
    ...(s.jobs_failed > s.failed_jobs.length ? [`  - and ${s.jobs_failed - s.failed_jobs.length} more`] : []),
    `New users: ${s.new_users}`,
    `Alerts firing: ${s.alerts_firing}`,
  ]
  return lines.join('\n')
}
