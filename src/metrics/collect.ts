import type { Queryable } from '../db/types.js'
import { alertsConfig, type AlertsConfig, type ResolvedConfig } from '../config/schema.js'
import * as m from '../db/queries/metrics.js'
import { monthStartOf } from '../month.js'
import { storageQuotaBytes } from '../alerts/rules.js'
import { GB, round } from './format.js'
import { buildIndicators, type Indicator } from './indicators.js'
import { readMonthSpend, readSeries, type BucketValues } from './series.js'
import { readJobOutcomes } from './outcomes.js'

export const SECTIONS = ['jobs', 'datasets', 'cost', 'storage', 'errors', 'users'] as const
export type Section = (typeof SECTIONS)[number]

const H = 3_600_000
const D = 24 * H
export const PERIODS = { '1h': H, '24h': D, '7d': 7 * D, '30d': 30 * D } as const
export type Period = keyof typeof PERIODS

/**
 * Each figure's window when no --period is given: the seeds' own (seed 000). The seed
 * averages training duration over every job ever completed; lora over 30 days, which
 * says how training goes now. Series, and the training duration, cover whole buckets
 * (UTC days, or hours up to 24 h): the one holding the window's start to the current one.
 */
const DEFAULT_WINDOWS = {
  uploadSuccess: '24h',
  validationTime: '7d',
  /** The success and failure rates: one window, one denominator (the jobs of the window that finished). */
  outcomes: '24h',
  trainingDuration: '30d',
  jobsSeries: '30d',
  costSeries: '30d',
  mostExpensive: '7d',
  costPerJob: '7d',
  storageGrowth: '30d',
  errorTypes: '7d',
} as const satisfies Record<string, Period>

const LIST_LIMIT = 10
const LARGEST_LIMIT = 20
const STUCK_LIMIT = 50

export interface SeriesPoint {
  /** The bucket's start, ISO 8601 (UTC). */
  bucket: string
}

export interface Series<P extends SeriesPoint> {
  bucket_size: 'hour' | 'day'
  window: Period
  points: P[]
}

export interface JobsMetrics {
  queue_depth: number
  active: { queued: number; initializing: number; running: number }
  /** Both rates over the same denominator: jobs created in the window that finished (completed or failed). */
  success_rate: JobOutcomeRate
  failure_rate: JobOutcomeRate
  avg_training_hours: { value: number | null; jobs: number; window: Period }
  stuck: { count: number; threshold_hours: number; jobs: { id: string; user_id: string; cluster_name: string | null; started_at: string; running_hours: number }[] }
  series: Series<SeriesPoint & { created: number; completed: number; failed: number }>
}

export interface JobOutcomeRate {
  value: number | null
  completed: number
  failed: number
  finished: number
  window: Period
}

export interface DatasetsMetrics {
  upload_success_rate: { value: number | null; ready: number; total: number; window: Period }
  avg_validation_minutes: { value: number | null; datasets: number; window: Period }
  active: number
}

export interface CostMetrics {
  series: Series<SeriesPoint & { total_cost: number; num_jobs: number }>
  /** By calendar month (UTC), whatever --period says: read from the per-user rollups. */
  per_user: { window: 'month'; users: { user_id: string; total_cost: number; num_jobs: number; avg_cost_per_job: number | null }[] }
  most_expensive: { window: Period; jobs: { job_id: string; user_id: string; total_cost: number; status: string; created_at: string }[] }
  avg_cost_per_job: { value: number | null; total_cost: number; jobs: number; window: Period }
  month_to_date: { spent: number; recorded: number; running: number; budget: number; used_percent: number }
}

export interface StorageMetrics {
  datasets: { bytes: number; gb: number; count: number }
  models: { bytes: number; gb: number; count: number }
  used_bytes: number
  quota_bytes: number
  used_percent: number
  growth: Series<SeriesPoint & { datasets_bytes: number; models_bytes: number; gb_added: number }>
  largest_datasets: { id: string; name: string; size_mb: number }[]
}

export interface ErrorsMetrics {
  by_type: { window: Period; types: { error_type: string; count: number; last_occurred: string }[] }
  recent_failed: { id: string; error_type: string | null; error_message: string | null; created_at: string }[]
}

export interface UsersMetrics {
  /** By calendar month (UTC), whatever --period says: read from the per-user rollups. */
  window: 'month'
  active: number
  new: number
  at_limit: number
  top: { user_id: string; jobs: number; completed: number; failed: number; success_rate: number | null; total_cost: number }[]
}

export interface MetricsReport {
  generated_at: string
  period: Period | null
  sections: Section[]
  indicators: Indicator[]
  jobs?: JobsMetrics
  datasets?: DatasetsMetrics
  cost?: CostMetrics
  storage?: StorageMetrics
  errors?: ErrorsMetrics
  users?: UsersMetrics
}

interface Input {
  db: Queryable
  config: ResolvedConfig
  alerts: AlertsConfig
  now: Date
  window: (key: keyof typeof DEFAULT_WINDOWS) => Period
  since: (period: Period) => Date
  bucket: (period: Period) => 'hour' | 'day'
}

const rate = (part: number, whole: number) => (whole > 0 ? round((part * 100) / whole) : null)

type Point = { start: number; values: BucketValues }
const iso = (ms: number) => new Date(ms).toISOString()

async function jobs(i: Input): Promise<JobsMetrics> {
  const w = { outcomes: i.window('outcomes'), duration: i.window('trainingDuration'), series: i.window('jobsSeries') }
  const stuckBefore = new Date(i.now.getTime() - i.alerts.stuckAfterMs)
  const [active, outcomes, series, durationSeries, stuck] = await Promise.all([
    m.countActiveJobs(i.db),
    readJobOutcomes(i.db, i.since(w.outcomes)),
    readSeries(i.db, 'jobs', i.since(w.series), i.now, i.bucket(w.series)),
    w.duration === w.series ? null : readSeries(i.db, 'jobs', i.since(w.duration), i.now, i.bucket(w.duration)),
    m.listStuckJobs(i.db, stuckBefore, STUCK_LIMIT),
  ])
  const outcome = (value: number | null): JobOutcomeRate => ({ value: round(value), completed: outcomes.completed, failed: outcomes.failed, finished: outcomes.finished, window: w.outcomes })
  const trainedPoints: Point[] = durationSeries ?? series
  const seconds = trainedPoints.reduce((n, p) => n + (p.values.training_seconds ?? 0), 0)
  const trained = trainedPoints.reduce((n, p) => n + (p.values.trained ?? 0), 0)
  return {
    queue_depth: active.queued,
    active,
    success_rate: outcome(outcomes.successRate),
    failure_rate: outcome(outcomes.failureRate),
    avg_training_hours: { value: trained ? round(seconds / trained / 3600, 3) : null, jobs: trained, window: w.duration },
    stuck: {
      count: stuck.length,
      threshold_hours: round(i.alerts.stuckAfterMs / H) ?? 0,
      jobs: stuck.map((j) => ({ ...j, started_at: j.started_at.toISOString(), running_hours: round((i.now.getTime() - j.started_at.getTime()) / H) ?? 0 })),
    },
    series: {
      bucket_size: i.bucket(w.series),
      window: w.series,
      points: series.map((p) => ({ bucket: iso(p.start), created: p.values.created ?? 0, completed: p.values.completed ?? 0, failed: p.values.failed ?? 0 })),
    },
  }
}

async function datasets(i: Input): Promise<DatasetsMetrics> {
  const w = { uploads: i.window('uploadSuccess'), validation: i.window('validationTime') }
  const [uploads, validation, active] = await Promise.all([
    m.countDatasetUploads(i.db, i.since(w.uploads)),
    m.averageValidationTime(i.db, i.since(w.validation)),
    m.countActiveDatasets(i.db),
  ])
  return {
    upload_success_rate: { value: rate(uploads.ready, uploads.total), ready: uploads.ready, total: uploads.total, window: w.uploads },
    avg_validation_minutes: { value: round(validation.avg_minutes), datasets: validation.datasets, window: w.validation },
    active,
  }
}

async function cost(i: Input): Promise<CostMetrics> {
  const w = { series: i.window('costSeries'), expensive: i.window('mostExpensive'), perJob: i.window('costPerJob') }
  const [series, perUser, expensive, perJob, spend] = await Promise.all([
    readSeries(i.db, 'cost', i.since(w.series), i.now, i.bucket(w.series)),
    m.readCostPerUser(i.db, i.now, LIST_LIMIT),
    m.listMostExpensiveJobs(i.db, i.since(w.expensive), LIST_LIMIT),
    m.sumCostPerJob(i.db, i.since(w.perJob), new Date(i.now.getTime() + 1)),
    readMonthSpend(i.db, i.now),
  ])
  const budget = i.config.budget.monthlyUsd
  return {
    series: {
      bucket_size: i.bucket(w.series),
      window: w.series,
      points: series.map((p) => ({ bucket: iso(p.start), total_cost: round(p.values.total_cost) ?? 0, num_jobs: p.values.num_jobs ?? 0 })),
    },
    per_user: {
      window: 'month',
      users: perUser.map((u) => ({ user_id: u.user_id, total_cost: round(u.total_cost) ?? 0, num_jobs: u.num_jobs, avg_cost_per_job: u.num_jobs ? round(u.total_cost / u.num_jobs) : null })),
    },
    most_expensive: {
      window: w.expensive,
      jobs: expensive.map((j) => ({ ...j, total_cost: round(j.total_cost) ?? 0, created_at: j.created_at.toISOString() })),
    },
    avg_cost_per_job: { value: perJob.jobs ? round(perJob.total_cost / perJob.jobs) : null, total_cost: round(perJob.total_cost) ?? 0, jobs: perJob.jobs, window: w.perJob },
    month_to_date: {
      spent: round(spend.total) ?? 0,
      recorded: round(spend.recorded) ?? 0,
      running: round(spend.running) ?? 0,
      budget,
      used_percent: round((spend.total * 100) / budget) ?? 0,
    },
  }
}

async function storage(i: Input): Promise<StorageMetrics> {
  const w = i.window('storageGrowth')
  const [ds, models, growth, largest] = await Promise.all([
    m.sumDatasetStorage(i.db),
    m.sumModelStorage(i.db),
    readSeries(i.db, 'storage', i.since(w), i.now, i.bucket(w)),
    m.listLargestDatasets(i.db, LARGEST_LIMIT),
  ])
  const used = ds.bytes + models.bytes
  const quota = storageQuotaBytes(i.config)
  return {
    datasets: { bytes: ds.bytes, gb: round(ds.bytes / GB, 3) ?? 0, count: ds.count },
    models: { bytes: models.bytes, gb: round(models.bytes / GB, 3) ?? 0, count: models.count },
    used_bytes: used,
    quota_bytes: quota,
    used_percent: round((used * 100) / quota) ?? 0,
    growth: {
      bucket_size: i.bucket(w),
      window: w,
      points: growth.map((p) => {
        const d = p.values.datasets_bytes ?? 0
        const mb = p.values.models_bytes ?? 0
        return { bucket: iso(p.start), datasets_bytes: d, models_bytes: mb, gb_added: round((d + mb) / GB, 3) ?? 0 }
      }),
    },
    largest_datasets: largest.map((d) => ({ id: d.id, name: d.name, size_mb: round(d.file_size / 1024 ** 2) ?? 0 })),
  }
}

async function errors(i: Input): Promise<ErrorsMetrics> {
  const w = i.window('errorTypes')
  const [types, recent] = await Promise.all([m.countErrorTypes(i.db, i.since(w)), m.listRecentFailedJobs(i.db, LIST_LIMIT)])
  return {
    by_type: { window: w, types: types.map((t) => ({ ...t, last_occurred: t.last_occurred.toISOString() })) },
    recent_failed: recent.map((j) => ({ ...j, created_at: j.created_at.toISOString() })),
  }
}

async function users(i: Input): Promise<UsersMetrics> {
  const [top, limits] = await Promise.all([m.listTopUsers(i.db, i.now, LIST_LIMIT), m.countUserLimits(i.db, monthStartOf(i.now))])
  const costs = new Map((await m.sumCostOfUsers(i.db, i.now, top.map((u) => u.user_id))).map((c) => [c.user_id, c.total_cost]))
  return {
    window: 'month',
    active: top[0]?.active_users ?? 0,
    new: limits.new_users,
    at_limit: limits.at_limit,
    top: top.map(({ active_users: _, ...u }) => ({ ...u, success_rate: rate(u.completed, u.completed + u.failed), total_cost: round(costs.get(u.user_id) ?? 0) ?? 0 })),
  }
}

/**
 * The metrics of the sections asked for. With a period, every windowed figure covers
 * it (series in hours up to 24 h, in days beyond); without, each keeps its seed window.
 */
export async function collectMetrics(
  input: { db: Queryable; config: ResolvedConfig; now: Date },
  options: { sections?: readonly Section[]; period?: Period | null } = {},
): Promise<MetricsReport> {
  const period = options.period ?? null
  const sections = options.sections?.length ? [...options.sections] : [...SECTIONS]
  const i: Input = {
    ...input,
    alerts: alertsConfig(input.config),
    window: (key) => period ?? DEFAULT_WINDOWS[key],
    since: (p) => new Date(input.now.getTime() - PERIODS[p]),
    bucket: (p) => (PERIODS[p] <= D ? 'hour' : 'day'),
  }
  const report: MetricsReport = { generated_at: input.now.toISOString(), period, sections, indicators: [] }
  const want = (s: Section) => sections.includes(s)
  const [j, ds, c, st, e, u] = await Promise.all([
    want('jobs') ? jobs(i) : undefined,
    want('datasets') ? datasets(i) : undefined,
    want('cost') ? cost(i) : undefined,
    want('storage') ? storage(i) : undefined,
    want('errors') ? errors(i) : undefined,
    want('users') ? users(i) : undefined,
  ])
  if (j) report.jobs = j
  if (ds) report.datasets = ds
  if (c) report.cost = c
  if (st) report.storage = st
  if (e) report.errors = e
  if (u) report.users = u
  report.indicators = buildIndicators(report, i.alerts)
  return report
}
