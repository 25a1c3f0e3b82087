import type { Queryable } from '../db/types.js'
import { sumRunningCost } from '../db/queries/health.js'
import { monthStartOf } from '../month.js'
import {
  cacheDays,
  readCachedDays,
  readCostDays,
  readCostSeries,
  readDatasetGrowth,
  readJobsCreatedSeries,
  readJobsDays,
  readJobsFinishedSeries,
  readModelGrowth,
  readModelGrowthDays,
  type Bucket,
  type SeriesMetric,
} from '../db/queries/metrics.js'

const H = 3_600_000
const D = 24 * H
/** A day is cached once it has been over for this long: writes that come late land before. */
export const SETTLE_MS = H

export type BucketValues = Record<string, number>

export const SERIES_FIELDS: Record<SeriesMetric, string[]> = {
  jobs: ['created', 'completed', 'failed', 'training_seconds', 'trained'],
  cost: ['total_cost', 'num_jobs'],
  storage: ['datasets_bytes', 'models_bytes'],
}

const zero = (metric: SeriesMetric): BucketValues => Object.fromEntries(SERIES_FIELDS[metric].map((f) => [f, 0]))

/**
 * One aggregation of a series over [from, to), by bucket start (ms). Closed days (day
 * buckets, from and to at UTC midnight) read the jobs, the cost and the model bytes
 * from the daily rollups (migration 0007), which hold what the live statements would
 * sum; the dataset bytes (a table a tenth the size) are an index range either way.
 */
async function aggregate(db: Queryable, metric: SeriesMetric, from: Date, to: Date, bucket: Bucket | 'closed days'): Promise<Map<number, BucketValues>> {
  const closed = bucket === 'closed days'
  const live: Bucket = closed ? 'day' : bucket
  const out = new Map<number, BucketValues>()
  const add = (at: Date, values: BucketValues) => {
    const key = at.getTime()
    const current = out.get(key) ?? zero(metric)
    for (const [k, v] of Object.entries(values)) current[k] = (current[k] ?? 0) + v
    out.set(key, current)
  }
  if (metric === 'jobs') {
    if (closed) {
      for (const r of await readJobsDays(db, from, to)) {
        add(r.bucket, { created: r.created, completed: r.completed, failed: r.failed, training_seconds: r.training_seconds, trained: r.trained })
      }
    } else {
      const [created, finished] = await Promise.all([readJobsCreatedSeries(db, from, to, live), readJobsFinishedSeries(db, from, to, live)])
      for (const r of created) add(r.bucket, { created: r.created })
      for (const r of finished) add(r.bucket, { completed: r.completed, failed: r.failed, training_seconds: r.training_seconds, trained: r.trained })
    }
  } else if (metric === 'cost') {
    const rows = closed ? await readCostDays(db, from, to) : await readCostSeries(db, from, to, live)
    for (const r of rows) add(r.bucket, { total_cost: r.total_cost, num_jobs: r.num_jobs })
  } else {
    const [datasets, models] = await Promise.all([
      readDatasetGrowth(db, from, to, live),
      closed ? readModelGrowthDays(db, from, to) : readModelGrowth(db, from, to, live),
    ])
    for (const r of datasets) add(r.bucket, { datasets_bytes: r.bytes })
    for (const r of models) add(r.bucket, { models_bytes: r.bytes })
  }
  return out
}

const dayString = (ms: number) => new Date(ms).toISOString().slice(0, 10)

/**
 * A series in buckets from the bucket holding `since` to the one holding `now`, oldest
 * first, empty buckets included. Day buckets of days over for an hour come from
 * lora_ops.metrics_daily, and are read from the daily rollups and stored there when
 * missing; the rest
 * (today, and hour buckets) is aggregated live. A database that refuses the cache
 * write (a read-only replica) still gets its figures.
 */
export async function readSeries(db: Queryable, metric: SeriesMetric, since: Date, now: Date, bucket: Bucket): Promise<{ start: number; values: BucketValues }[]> {
  const step = bucket === 'hour' ? H : D
  const first = Math.floor(since.getTime() / step) * step
  const last = Math.floor(now.getTime() / step) * step
  const end = new Date(now.getTime() + 1)
  const values = new Map<number, BucketValues>()

  let liveFrom = first
  if (bucket === 'day') {
    const settledBefore = Math.max(first, Math.floor((now.getTime() - SETTLE_MS) / D) * D)
    if (settledBefore > first) {
      const cached = await readCachedDays(db, metric, dayString(first), dayString(settledBefore))
      for (const c of cached) values.set(Date.parse(`${c.day}T00:00:00Z`), { ...zero(metric), ...c.data })
      const missing: number[] = []
      for (let t = first; t < settledBefore; t += D) if (!values.has(t)) missing.push(t)
      if (missing.length) {
        const from = missing[0]!
        const to = missing[missing.length - 1]! + D
        const computed = await aggregate(db, metric, new Date(from), new Date(to), 'closed days')
        const rows = missing.map((t) => ({ day: dayString(t), data: computed.get(t) ?? zero(metric) }))
        for (const r of rows) values.set(Date.parse(`${r.day}T00:00:00Z`), r.data)
        await cacheDays(db, metric, rows, now).catch(() => {})
      }
    }
    liveFrom = settledBefore
  }
  if (liveFrom <= last) {
    for (const [t, v] of await aggregate(db, metric, new Date(liveFrom), end, bucket)) values.set(t, v)
  }
  const points: { start: number; values: BucketValues }[] = []
  for (let t = first; t <= last; t += step) points.push({ start: t, values: values.get(t) ?? zero(metric) })
  return points
}

/**
 * This month's spend as the daemon counts it: the costs recorded since the 1st (UTC),
 * read from the daily cost series (closed days cached), plus what active jobs burn.
 */
export async function readMonthSpend(db: Queryable, now: Date): Promise<{ recorded: number; running: number; total: number }> {
  const [days, running] = await Promise.all([readSeries(db, 'cost', monthStartOf(now), now, 'day'), sumRunningCost(db, now)])
  const recorded = days.reduce((n, d) => n + (d.values.total_cost ?? 0), 0)
  return { recorded, running, total: recorded + running }
}
