import type { Queryable } from '../types.js'
import { monthStartOf } from '../../month.js'

/**
 * The metrics of seed 000 (datasets, jobs, cost, storage), the error analysis of seed
 * 002 and the per-user figures. Every window is a bound parameter computed from the
 * injected clock (never NOW()), and each statement is served by an index: the plans
 * are checked by test/metrics/plans.test.ts on a large table.
 */

export type Bucket = 'hour' | 'day'

/** The statements, by name: the functions below run them, the plan test explains them. */
export const METRICS_SQL = {
  datasetUploads: `
    SELECT count(*) FILTER (WHERE status = 'ready')::int AS ready, count(*)::int AS total
      FROM datasets WHERE created_at > $1`,
  datasetValidationTime: `
    SELECT (avg(extract(epoch FROM (validated_at - created_at))) / 60)::float8 AS avg_minutes, count(*)::int AS datasets
      FROM datasets WHERE validated_at IS NOT NULL AND created_at > $1`,
  // Kept by triggers (migration 0003): the count of ready, live datasets.
  activeDatasets: `
    SELECT coalesce((SELECT ready FROM lora_ops.storage_totals WHERE kind = 'datasets'), 0)::int AS n`,
  activeJobsByStatus: `
    SELECT status, count(*)::int AS n FROM training_jobs
     WHERE status IN ('queued', 'initializing', 'running') GROUP BY status`,
  // The jobs created since $1 that finished: the one denominator of the success and
  // failure rates (src/metrics/outcomes.ts).
  jobOutcomes: `
    SELECT count(*) FILTER (WHERE status = 'completed')::int AS completed,
           count(*) FILTER (WHERE status = 'failed')::int AS failed
      FROM training_jobs WHERE status IN ('completed', 'failed') AND created_at > $1`,
  // The series: buckets of $3 (1 hour, 1 day) over [$1, $2), aligned on UTC midnight.
  // Read live for the part of a series that is not closed days (today, hourly buckets:
  // at most 25 hours); the closed days of the jobs, the cost and the model bytes come
  // from the daily rollups below, those of the dataset bytes from datasetGrowth.
  jobsCreatedSeries: `
    SELECT date_bin($3::interval, created_at, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket, count(*)::int AS created
      FROM training_jobs WHERE created_at >= $1 AND created_at < $2 GROUP BY 1`,
  jobsFinishedSeries: `
    SELECT date_bin($3::interval, completed_at, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
           count(*) FILTER (WHERE status = 'completed')::int AS completed,
           count(*) FILTER (WHERE status = 'failed')::int AS failed,
           coalesce(sum(extract(epoch FROM (completed_at - started_at))) FILTER (WHERE status = 'completed' AND started_at IS NOT NULL), 0)::float8 AS training_seconds,
           count(*) FILTER (WHERE status = 'completed' AND started_at IS NOT NULL)::int AS trained
      FROM training_jobs WHERE status IN ('completed', 'failed') AND completed_at >= $1 AND completed_at < $2 GROUP BY 1`,
  stuckJobs: `
    SELECT id, user_id, cluster_name, started_at FROM training_jobs
     WHERE status = 'running' AND started_at < $1 ORDER BY started_at, id LIMIT $2`,
  // The sum in numeric, then float8: exact, and equal to the daily rollup's.
  costSeries: `
    SELECT date_bin($3::interval, recorded_at, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket, sum(amount)::float8 AS total_cost,
           count(DISTINCT job_id)::int AS num_jobs
      FROM cost_records WHERE recorded_at >= $1 AND recorded_at < $2 GROUP BY 1`,
  // The per-user figures are by calendar month (UTC; $1 its first day), read from the
  // rollups of migration 0006 that triggers keep exact: the top ten are an index range.
  costPerUser: `
    SELECT c.user_id, c.total_cost::float8 AS total_cost, c.jobs::int AS num_jobs FROM lora_ops.user_month_costs c
     WHERE c.month = $1::date AND c.records > 0 ORDER BY c.total_cost DESC, c.user_id LIMIT $2`,
  mostExpensiveJobs: `
    WITH top AS (
      SELECT job_id, sum(amount::float8) AS total_cost FROM cost_records
       WHERE recorded_at > $1 AND job_id IS NOT NULL
       GROUP BY job_id ORDER BY total_cost DESC, job_id LIMIT $2
    )
    SELECT top.job_id, j.user_id, top.total_cost, j.status, j.created_at
      FROM top JOIN training_jobs j ON j.id = top.job_id
     ORDER BY top.total_cost DESC, top.job_id`,
  costPerJob: `
    SELECT coalesce(sum(amount::float8), 0) AS total_cost, count(DISTINCT job_id)::int AS jobs
      FROM cost_records WHERE recorded_at >= $1 AND recorded_at < $2 AND job_id IS NOT NULL`,
  // Seed 000's totals (live datasets' file_size; live models' lora_adapter_size +
  // full_model_size), kept by triggers (migration 0003) instead of summed each time.
  datasetStorage: `
    SELECT coalesce(sum(bytes), 0)::int8 AS bytes, coalesce(sum(live), 0)::int AS count
      FROM lora_ops.storage_totals WHERE kind = 'datasets'`,
  modelStorage: `
    SELECT coalesce(sum(bytes), 0)::int8 AS bytes, coalesce(sum(live), 0)::int AS count
      FROM lora_ops.storage_totals WHERE kind = 'models'`,
  // Bytes added per bucket, whatever became of them since.
  datasetGrowth: `
    SELECT date_bin($3::interval, created_at, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket, coalesce(sum(file_size), 0)::int8 AS bytes
      FROM datasets WHERE created_at >= $1 AND created_at < $2 GROUP BY 1`,
  modelGrowth: `
    SELECT date_bin($3::interval, created_at, TIMESTAMPTZ '2000-01-01 00:00:00+00') AS bucket,
           coalesce(sum(lora_ops.artifact_bytes(artifacts)), 0)::int8 AS bytes
      FROM model_artifacts WHERE created_at >= $1 AND created_at < $2 GROUP BY 1`,
  // The daily rollups of migration 0007, kept exact by triggers: closed UTC days
  // [$1, $2) of jobsCreatedSeries with jobsFinishedSeries, costSeries and modelGrowth,
  // one row a day.
  jobsDays: `
    SELECT (day::timestamp AT TIME ZONE 'UTC') AS bucket, created::int AS created, completed::int AS completed, failed::int AS failed,
           training_seconds::float8 AS training_seconds, trained::int AS trained
      FROM lora_ops.jobs_daily WHERE day >= $1::date AND day < $2::date`,
  costDays: `
    SELECT (day::timestamp AT TIME ZONE 'UTC') AS bucket, total_cost::float8 AS total_cost, jobs::int AS num_jobs
      FROM lora_ops.cost_daily WHERE day >= $1::date AND day < $2::date`,
  modelGrowthDays: `
    SELECT (day::timestamp AT TIME ZONE 'UTC') AS bucket, bytes::int8 AS bytes
      FROM lora_ops.model_bytes_daily WHERE day >= $1::date AND day < $2::date`,
  cachedDays: `
    SELECT day, data FROM lora_ops.metrics_daily WHERE metric = $1 AND day >= $2::date AND day < $3::date`,
  cacheDays: `
    INSERT INTO lora_ops.metrics_daily (metric, day, data, computed_at)
    SELECT $1, day, data, $3 FROM jsonb_to_recordset($2::jsonb) AS x(day date, data jsonb)
    ON CONFLICT (metric, day) DO NOTHING`,
  largestDatasets: `
    SELECT id, name, file_size FROM datasets
     WHERE deleted_at IS NULL AND file_size IS NOT NULL ORDER BY file_size DESC LIMIT $1`,
  errorTypes: `
    SELECT coalesce(error_type, 'UNKNOWN_ERROR') AS error_type, count(*)::int AS count, max(completed_at) AS last_occurred
      FROM training_jobs WHERE status = 'failed' AND completed_at > $1
     GROUP BY 1 ORDER BY count DESC, error_type`,
  recentFailedJobs: `
    SELECT id, error_type, error_message, created_at FROM training_jobs
     WHERE status = 'failed' ORDER BY created_at DESC LIMIT $1`,
  // The top users by jobs created in the month, then the outcomes of their jobs of that
  // month (an index range each), and how many users created one.
  topUsers: `
    WITH top AS (
      SELECT user_id, jobs FROM lora_ops.user_month_jobs WHERE month = $1::date AND jobs > 0
       ORDER BY jobs DESC, user_id LIMIT $2
    )
    SELECT top.user_id, top.jobs::int AS jobs, s.completed, s.failed,
           (SELECT count(*) FROM lora_ops.user_month_jobs WHERE month = $1::date AND jobs > 0)::int AS active_users
      FROM top CROSS JOIN LATERAL (
        SELECT count(*) FILTER (WHERE status = 'completed')::int AS completed, count(*) FILTER (WHERE status = 'failed')::int AS failed
          FROM training_jobs j
         WHERE j.user_id = top.user_id AND j.created_at >= ($1::date::timestamp AT TIME ZONE 'UTC')
           AND j.created_at < (($1::date + interval '1 month')::timestamp AT TIME ZONE 'UTC')) s
     ORDER BY top.jobs DESC, top.user_id`,
  costOfUsers: `
    SELECT user_id, total_cost::float8 AS total_cost FROM lora_ops.user_month_costs
     WHERE month = $1::date AND user_id = ANY($2::uuid[])`,
  userLimits: `
    SELECT count(*) FILTER (WHERE created_at > $1)::int AS new_users,
           count(*) FILTER (WHERE loras_created_this_month >= monthly_limit)::int AS at_limit
      FROM user_training_limits`,
  jobsFinishedBetween: `
    SELECT status, count(*)::int AS n FROM training_jobs
     WHERE status IN ('completed', 'failed') AND completed_at >= $1 AND completed_at < $2 GROUP BY status`,
  failedJobsBetween: `
    SELECT id, user_id, error_type, error_message, completed_at FROM training_jobs
     WHERE status = 'failed' AND completed_at >= $1 AND completed_at < $2
     ORDER BY completed_at DESC, id LIMIT $3`,
  newUsersBetween: `
    SELECT count(*)::int AS n FROM user_training_limits WHERE created_at >= $1 AND created_at < $2`,
} as const

export type MetricsQueryName = keyof typeof METRICS_SQL

const one = async <T extends object>(q: Queryable, sql: string, params: unknown[]): Promise<T> => (await q.query<T>(sql, params))[0]!

export function countDatasetUploads(q: Queryable, since: Date) {
  return one<{ ready: number; total: number }>(q, METRICS_SQL.datasetUploads, [since])
}

export function averageValidationTime(q: Queryable, since: Date) {
  return one<{ avg_minutes: number | null; datasets: number }>(q, METRICS_SQL.datasetValidationTime, [since])
}

export async function countActiveDatasets(q: Queryable): Promise<number> {
  return (await one<{ n: number }>(q, METRICS_SQL.activeDatasets, [])).n
}

export async function countActiveJobs(q: Queryable): Promise<{ queued: number; initializing: number; running: number }> {
  const rows = await q.query<{ status: string; n: number }>(METRICS_SQL.activeJobsByStatus)
  const by = Object.fromEntries(rows.map((r) => [r.status, r.n]))
  return { queued: by.queued ?? 0, initializing: by.initializing ?? 0, running: by.running ?? 0 }
}

export function countJobOutcomes(q: Queryable, since: Date) {
  return one<{ completed: number; failed: number }>(q, METRICS_SQL.jobOutcomes, [since])
}

/** The key of the per-user rollups: the first day of `at`'s UTC month, YYYY-MM-DD. */
export function monthKey(at: Date): string {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1)).toISOString().slice(0, 10)
}

const INTERVAL: Record<Bucket, string> = { hour: '1 hour', day: '1 day' }

export function readJobsCreatedSeries(q: Queryable, from: Date, to: Date, bucket: Bucket) {
  return q.query<{ bucket: Date; created: number }>(METRICS_SQL.jobsCreatedSeries, [from, to, INTERVAL[bucket]])
}

export function readJobsFinishedSeries(q: Queryable, from: Date, to: Date, bucket: Bucket) {
  return q.query<{ bucket: Date; completed: number; failed: number; training_seconds: number; trained: number }>(
    METRICS_SQL.jobsFinishedSeries,
    [from, to, INTERVAL[bucket]],
  )
}

export interface StuckJob {
  id: string
  user_id: string
  cluster_name: string | null
  started_at: Date
}

export function listStuckJobs(q: Queryable, startedBefore: Date, limit: number) {
  return q.query<StuckJob>(METRICS_SQL.stuckJobs, [startedBefore, limit])
}

export function readCostSeries(q: Queryable, from: Date, to: Date, bucket: Bucket) {
  return q.query<{ bucket: Date; total_cost: number; num_jobs: number }>(METRICS_SQL.costSeries, [from, to, INTERVAL[bucket]])
}

/** The users who cost most in the UTC month holding `month`. */
export function readCostPerUser(q: Queryable, month: Date, limit: number) {
  return q.query<{ user_id: string; total_cost: number; num_jobs: number }>(METRICS_SQL.costPerUser, [monthKey(month), limit])
}

export function listMostExpensiveJobs(q: Queryable, since: Date, limit: number) {
  return q.query<{ job_id: string; user_id: string; total_cost: number; status: string; created_at: Date }>(
    METRICS_SQL.mostExpensiveJobs,
    [since, limit],
  )
}

export function sumCostPerJob(q: Queryable, from: Date, to: Date) {
  return one<{ total_cost: number; jobs: number }>(q, METRICS_SQL.costPerJob, [from, to])
}

export function sumDatasetStorage(q: Queryable) {
  return one<{ bytes: number; count: number }>(q, METRICS_SQL.datasetStorage, [])
}

export function sumModelStorage(q: Queryable) {
  return one<{ bytes: number; count: number }>(q, METRICS_SQL.modelStorage, [])
}

export function readDatasetGrowth(q: Queryable, from: Date, to: Date, bucket: Bucket) {
  return q.query<{ bucket: Date; bytes: number }>(METRICS_SQL.datasetGrowth, [from, to, INTERVAL[bucket]])
}

export function readModelGrowth(q: Queryable, from: Date, to: Date, bucket: Bucket) {
  return q.query<{ bucket: Date; bytes: number }>(METRICS_SQL.modelGrowth, [from, to, INTERVAL[bucket]])
}

/** Whole UTC days [from, to), both at midnight: the daily rollups (migration 0007). */
export function readJobsDays(q: Queryable, from: Date, to: Date) {
  return q.query<{ bucket: Date; created: number; completed: number; failed: number; training_seconds: number; trained: number }>(
    METRICS_SQL.jobsDays,
    [dayKey(from), dayKey(to)],
  )
}

export function readCostDays(q: Queryable, from: Date, to: Date) {
  return q.query<{ bucket: Date; total_cost: number; num_jobs: number }>(METRICS_SQL.costDays, [dayKey(from), dayKey(to)])
}

export function readModelGrowthDays(q: Queryable, from: Date, to: Date) {
  return q.query<{ bucket: Date; bytes: number }>(METRICS_SQL.modelGrowthDays, [dayKey(from), dayKey(to)])
}

/** The key of the daily rollups: `at`'s UTC day, YYYY-MM-DD (`at` is a midnight there). */
const dayKey = (at: Date): string => at.toISOString().slice(0, 10)

export type SeriesMetric = 'jobs' | 'cost' | 'storage'

/** Cached closed days of a series, [fromDay, toDay) as YYYY-MM-DD. */
export function readCachedDays(q: Queryable, metric: SeriesMetric, fromDay: string, toDay: string) {
  return q.query<{ day: string; data: Record<string, number> }>(METRICS_SQL.cachedDays, [metric, fromDay, toDay])
}

export async function cacheDays(q: Queryable, metric: SeriesMetric, days: { day: string; data: Record<string, number> }[], now: Date): Promise<void> {
  if (days.length === 0) return
  await q.query(METRICS_SQL.cacheDays, [metric, days, now])
}

export function listLargestDatasets(q: Queryable, limit: number) {
  return q.query<{ id: string; name: string; file_size: number }>(METRICS_SQL.largestDatasets, [limit])
}

export function countErrorTypes(q: Queryable, since: Date) {
  return q.query<{ error_type: string; count: number; last_occurred: Date }>(METRICS_SQL.errorTypes, [since])
}

export function listRecentFailedJobs(q: Queryable, limit: number) {
  return q.query<{ id: string; error_type: string | null; error_message: string | null; created_at: Date }>(
    METRICS_SQL.recentFailedJobs,
    [limit],
  )
}

/** The users who created most jobs in the UTC month holding `month`. */
export function listTopUsers(q: Queryable, month: Date, limit: number) {
  return q.query<{ user_id: string; jobs: number; completed: number; failed: number; active_users: number }>(METRICS_SQL.topUsers, [monthKey(month), limit])
}

/** What these users cost in the UTC month holding `month`. */
export function sumCostOfUsers(q: Queryable, month: Date, userIds: string[]) {
  if (userIds.length === 0) return Promise.resolve([])
  return q.query<{ user_id: string; total_cost: number }>(METRICS_SQL.costOfUsers, [monthKey(month), userIds])
}

export function countUserLimits(q: Queryable, since: Date) {
  return one<{ new_users: number; at_limit: number }>(q, METRICS_SQL.userLimits, [since])
}

export async function countJobsFinishedBetween(q: Queryable, from: Date, to: Date): Promise<{ completed: number; failed: number }> {
  const rows = await q.query<{ status: string; n: number }>(METRICS_SQL.jobsFinishedBetween, [from, to])
  const by = Object.fromEntries(rows.map((r) => [r.status, r.n]))
  return { completed: by.completed ?? 0, failed: by.failed ?? 0 }
}

export function listFailedJobsBetween(q: Queryable, from: Date, to: Date, limit: number) {
  return q.query<{ id: string; user_id: string; error_type: string | null; error_message: string | null; completed_at: Date }>(
    METRICS_SQL.failedJobsBetween,
    [from, to, limit],
  )
}

export async function countNewUsersBetween(q: Queryable, from: Date, to: Date): Promise<number> {
  return (await one<{ n: number }>(q, METRICS_SQL.newUsersBetween, [from, to])).n
}

/**
 * Each statement with parameters of the right type, for EXPLAIN (the plan test and the
 * benchmark): windows of the seeds' defaults ending at `now`.
 */
export function explainableMetricsQueries(now: Date): { name: MetricsQueryName; sql: string; params: unknown[] }[] {
  const ago = (ms: number) => new Date(now.getTime() - ms)
  const H = 3_600_000
  const D = 24 * H
  const month = monthStartOf(now)
  const user = '00000000-0000-0000-0000-000000000001'
  // The closed days of a 30-day series, up to today's midnight (UTC).
  const days = (n: number) => new Date(Math.floor(now.getTime() / D) * D - n * D).toISOString().slice(0, 10)
  const params: Record<MetricsQueryName, unknown[]> = {
    datasetUploads: [ago(D)],
    datasetValidationTime: [ago(7 * D)],
    activeDatasets: [],
    activeJobsByStatus: [],
    jobOutcomes: [ago(7 * D)],
    // Live: today and the hour before (day buckets), or 25 hourly buckets (--period 24h).
    jobsCreatedSeries: [ago(25 * H), now, '1 hour'],
    jobsFinishedSeries: [ago(25 * H), now, '1 hour'],
    stuckJobs: [ago(2 * H), 100],
    costSeries: [ago(25 * H), now, '1 hour'],
    costPerUser: [monthKey(now), 10],
    mostExpensiveJobs: [ago(7 * D), 10],
    costPerJob: [ago(7 * D), now],
    datasetStorage: [],
    modelStorage: [],
    datasetGrowth: [ago(30 * D), now, '1 day'],
    modelGrowth: [ago(25 * H), now, '1 hour'],
    jobsDays: [days(30), days(0)],
    costDays: [days(30), days(0)],
    modelGrowthDays: [days(30), days(0)],
    cachedDays: ['jobs', ago(30 * D).toISOString().slice(0, 10), now.toISOString().slice(0, 10)],
    cacheDays: ['jobs', [], now],
    largestDatasets: [20],
    errorTypes: [ago(7 * D)],
    recentFailedJobs: [10],
    topUsers: [monthKey(now), 10],
    costOfUsers: [monthKey(now), [user]],
    userLimits: [month],
    jobsFinishedBetween: [ago(2 * D), ago(D)],
    failedJobsBetween: [ago(2 * D), ago(D), 10],
    newUsersBetween: [ago(2 * D), ago(D)],
  }
  return (Object.keys(METRICS_SQL) as MetricsQueryName[])
    .filter((name) => name !== 'cacheDays')
    .map((name) => ({ name, sql: METRICS_SQL[name], params: params[name] }))
}
