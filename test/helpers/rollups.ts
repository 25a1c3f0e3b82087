import type { Queryable } from '../../src/db/types.js'
import * as m from '../../src/db/queries/metrics.js'

/**
 * The per-user rollups of migration 0006 beside the same figures aggregated directly
 * from cost_records and training_jobs, as sorted lines "month user total records jobs"
 * and "month user jobs". Rows a rollup keeps at zero (everything of a user and month
 * removed) are left out: the direct aggregate has no row for them.
 */
export async function userRollups(db: Queryable) {
  const lines = async (sql: string) => (await db.query<{ line: string }>(sql)).map((r) => r.line)
  const [costs, costsDirect, jobs, jobsDirect] = await Promise.all([
    lines(`SELECT month || ' ' || user_id || ' ' || total_cost::numeric(14, 2) || ' ' || records || ' ' || jobs AS line
             FROM lora_ops.user_month_costs WHERE records <> 0 OR total_cost <> 0 OR jobs <> 0 ORDER BY 1`),
    lines(`SELECT lora_ops.utc_month(recorded_at) || ' ' || user_id || ' ' || sum(amount)::numeric(14, 2) || ' ' || count(*) || ' ' || count(DISTINCT job_id) AS line
             FROM cost_records GROUP BY lora_ops.utc_month(recorded_at), user_id ORDER BY 1`),
    lines(`SELECT month || ' ' || user_id || ' ' || jobs AS line FROM lora_ops.user_month_jobs WHERE jobs <> 0 ORDER BY 1`),
    lines(`SELECT lora_ops.utc_month(created_at) || ' ' || user_id || ' ' || count(*) AS line
             FROM training_jobs GROUP BY lora_ops.utc_month(created_at), user_id ORDER BY 1`),
  ])
  return { rollup: { costs, jobs }, direct: { costs: costsDirect, jobs: jobsDirect } }
}

/**
 * The daily rollups of migration 0007 as the closed-day fill of the series reads them
 * (jobsDays, costDays, modelGrowthDays) beside the live statements the series use
 * elsewhere (jobsCreatedSeries with jobsFinishedSeries, costSeries, modelGrowth, with
 * day buckets), over the same days: sorted lines "day figures...". Days a rollup keeps
 * at zero (every row of the day removed) are left out: the live statements have no row
 * for them.
 */
export async function dailyRollups(db: Queryable, from = new Date('2000-01-01T00:00:00Z'), to = new Date('2100-01-01T00:00:00Z')) {
  const day = (b: Date) => b.toISOString().slice(0, 10)
  const lines = <T extends { bucket: Date }>(rows: T[], figures: (r: T) => number[]) =>
    rows.filter((r) => figures(r).some((f) => f !== 0)).map((r) => [day(r.bucket), ...figures(r)].join(' ')).sort()
  type Jobs = { bucket: Date; created: number; completed: number; failed: number; training_seconds: number; trained: number }
  const jobs = (r: Jobs) => [r.created, r.completed, r.failed, r.training_seconds, r.trained]
  const cost = (r: { total_cost: number; num_jobs: number }) => [r.total_cost, r.num_jobs]
  const bytes = (r: { bytes: number }) => [r.bytes]
  // The two live jobs statements merged by day, as the series merges them.
  const liveJobs = new Map<number, Jobs>()
  const at = (bucket: Date) => liveJobs.get(bucket.getTime()) ?? liveJobs.set(bucket.getTime(), { bucket, created: 0, completed: 0, failed: 0, training_seconds: 0, trained: 0 }).get(bucket.getTime())!
  for (const r of await m.readJobsCreatedSeries(db, from, to, 'day')) at(r.bucket).created = r.created
  for (const { bucket, ...r } of await m.readJobsFinishedSeries(db, from, to, 'day')) Object.assign(at(bucket), r)
  return {
    rollup: {
      jobs: lines(await m.readJobsDays(db, from, to), jobs),
      cost: lines(await m.readCostDays(db, from, to), cost),
      models: lines(await m.readModelGrowthDays(db, from, to), bytes),
    },
    direct: {
      jobs: lines([...liveJobs.values()], jobs),
      cost: lines(await m.readCostSeries(db, from, to, 'day'), cost),
      models: lines(await m.readModelGrowth(db, from, to, 'day'), bytes),
    },
  }
}
