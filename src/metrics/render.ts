import type { IO } from '../io/streams.js'
import type { StyleName } from '../io/style.js'
import { printFields, printTable, type Cell, type Column } from '../io/output.js'
import type { MetricsReport, Series, SeriesPoint } from './collect.js'
import type { Indicator, IndicatorStatus } from './indicators.js'
import { gigabytes, minutes, money, percent } from './format.js'

const STATUS_STYLE: Record<IndicatorStatus, StyleName> = { ok: 'ok', warning: 'warn', critical: 'fail', no_data: 'dim' }

/** Section titles, a blank line between blocks (none before the first). */
const started = new WeakSet<IO>()
function title(io: IO, text: string): void {
  if (started.has(io)) io.out('')
  started.add(io)
  io.out(io.style.bold(text))
}

function formatValue(i: Indicator): string {
  if (i.value === null) return '-'
  if (i.unit === '%') return percent(i.value)
  if (i.unit === 'USD') return money(i.value)
  if (i.unit === 'min') return minutes(i.value)
  return `${i.value} ${i.value === 1 ? i.unit.replace(/s$/, '') : i.unit}`
}

function threshold(i: Indicator, t: number | null): string {
  if (t === null) return ''
  const sign = (i.direction === 'above' ? '>' : '<') + (i.inclusive ? '=' : '')
  const v = i.unit === '%' ? percent(t, 0) : i.unit === 'USD' ? money(t) : i.unit === 'min' ? minutes(t) : `${t}`
  return `${sign} ${v}`
}

export async function printIndicators(io: IO, indicators: Indicator[]): Promise<void> {
  if (indicators.length === 0) return
  await printTable(
    io,
    [
      { header: 'Indicator', value: (i) => i.label },
      { header: 'Value', value: (i) => formatValue(i), align: 'right' },
      { header: 'Status', value: (i) => i.status.replace('_', ' '), color: (i, t) => io.style[STATUS_STYLE[i.status]](t) },
      { header: 'Warning', value: (i) => threshold(i, i.warning) },
      { header: 'Critical', value: (i) => threshold(i, i.critical) },
    ],
    indicators,
  )
}

/** A series as an asciichart line on a terminal; as a table when piped. */
async function printSeries<P extends SeriesPoint>(io: IO, name: string, series: Series<P>, columns: Column<P>[], plotted: (p: P) => number): Promise<void> {
  const label = `${name} (per ${series.bucket_size}, ${series.window})`
  if (!io.stdoutIsTTY) {
    title(io, label)
    await printTable(io, [{ header: 'Bucket', value: (p) => p.bucket }, ...columns], series.points)
    return
  }
  title(io, label)
  const width = Math.max(10, io.columns - 16)
  const points = series.points.slice(-width)
  const values = points.map(plotted)
  if (values.every((v) => v === 0)) {
    io.out('  (nothing in this window)')
    return
  }
  const { plot } = await import('asciichart')
  io.out(plot(values, { height: 8, format: (v: number) => v.toFixed(v >= 100 ? 0 : 2).padStart(10) }))
  const first = points[0]!.bucket
  const last = points[points.length - 1]!.bucket
  const fmt = (iso: string) => (series.bucket_size === 'day' ? iso.slice(0, 10) : iso.slice(0, 16).replace('T', ' '))
  io.out(`${' '.repeat(12)}${fmt(first)}${' '.repeat(Math.max(1, values.length - fmt(first).length - fmt(last).length))}${fmt(last)}`)
}

const pct = (v: number | null) => (v === null ? '-' : percent(v))
const fields = (io: IO, rows: [string, Cell][]) => printFields(io, rows)

/** The human view of `lora metrics`: indicators, then each section's figures, tables and charts. */
export async function printMetrics(io: IO, r: MetricsReport): Promise<void> {
  started.delete(io)
  if (r.indicators.length) {
    title(io, 'Health indicators')
    await printIndicators(io, r.indicators)
  }
  if (r.jobs) {
    const j = r.jobs
    title(io, 'Jobs')
    fields(io, [
      ['Queue depth', j.queue_depth],
      ['Initializing', j.active.initializing],
      ['Running', j.active.running],
      [`Finished jobs (${j.success_rate.window})`, `${j.success_rate.finished} (${j.success_rate.completed} completed, ${j.success_rate.failed} failed)`],
      [`Success rate (${j.success_rate.window})`, `${pct(j.success_rate.value)} (${j.success_rate.completed} of ${j.success_rate.finished} finished)`],
      [`Failure rate (${j.failure_rate.window})`, `${pct(j.failure_rate.value)} (${j.failure_rate.failed} of ${j.failure_rate.finished} finished)`],
      [`Avg training duration (${j.avg_training_hours.window})`, j.avg_training_hours.value === null ? '-' : `${j.avg_training_hours.value} h (${j.avg_training_hours.jobs} jobs)`],
      [`Stuck jobs (running > ${j.stuck.threshold_hours} h)`, j.stuck.count],
    ])
    if (j.stuck.jobs.length) {
      title(io, 'Stuck jobs')
      await printTable(io, [
        { header: 'Job', value: (s) => s.id, id: true },
        { header: 'Cluster', value: (s) => s.cluster_name },
        { header: 'Started', value: (s) => s.started_at },
        { header: 'Hours', value: (s) => s.running_hours, align: 'right' },
      ], j.stuck.jobs)
    }
    await printSeries(io, 'Jobs created', j.series, [
      { header: 'Created', value: (p) => p.created, align: 'right' },
      { header: 'Completed', value: (p) => p.completed, align: 'right' },
      { header: 'Failed', value: (p) => p.failed, align: 'right' },
    ], (p) => p.created)
  }
  if (r.datasets) {
    const d = r.datasets
    title(io, 'Datasets')
    fields(io, [
      [`Upload success rate (${d.upload_success_rate.window})`, `${pct(d.upload_success_rate.value)} (${d.upload_success_rate.ready} of ${d.upload_success_rate.total})`],
      [`Avg validation time (${d.avg_validation_minutes.window})`, d.avg_validation_minutes.value === null ? '-' : `${minutes(d.avg_validation_minutes.value)} (${d.avg_validation_minutes.datasets} datasets)`],
      ['Active datasets', d.active],
    ])
  }
  if (r.cost) {
    const c = r.cost
    title(io, 'Cost')
    fields(io, [
      [`Avg cost per job (${c.avg_cost_per_job.window})`, `${money(c.avg_cost_per_job.value)} (${c.avg_cost_per_job.jobs} jobs, ${money(c.avg_cost_per_job.total_cost)})`],
      ['Spent this month', `${money(c.month_to_date.spent)} of ${money(c.month_to_date.budget)} (${percent(c.month_to_date.used_percent)}; ${money(c.month_to_date.running)} on running jobs)`],
    ])
    await printSeries(io, 'Cost', c.series, [
      { header: 'Total cost', value: (p) => p.total_cost.toFixed(2), align: 'right' },
      { header: 'Jobs', value: (p) => p.num_jobs, align: 'right' },
    ], (p) => p.total_cost)
    title(io, 'Cost per user (this month)')
    await printTable(io, [
      { header: 'User', value: (u) => u.user_id },
      { header: 'Total cost', value: (u) => u.total_cost.toFixed(2), align: 'right' },
      { header: 'Jobs', value: (u) => u.num_jobs, align: 'right' },
      { header: 'Avg per job', value: (u) => u.avg_cost_per_job?.toFixed(2), align: 'right' },
    ], c.per_user.users)
    title(io, `Most expensive jobs (${c.most_expensive.window})`)
    await printTable(io, [
      { header: 'Job', value: (j) => j.job_id, id: true },
      { header: 'User', value: (j) => j.user_id },
      { header: 'Total cost', value: (j) => j.total_cost.toFixed(2), align: 'right' },
      { header: 'Status', value: (j) => j.status },
      { header: 'Created', value: (j) => j.created_at },
    ], c.most_expensive.jobs)
  }
  if (r.storage) {
    const s = r.storage
    title(io, 'Storage')
    fields(io, [
      ['Datasets', `${gigabytes(s.datasets.bytes)} (${s.datasets.count} datasets)`],
      ['Models', `${gigabytes(s.models.bytes)} (${s.models.count} models)`],
      ['Used of quota', `${gigabytes(s.used_bytes)} of ${gigabytes(s.quota_bytes, 0)} (${percent(s.used_percent)})`],
    ])
    await printSeries(io, 'Storage added (GB)', s.growth, [
      { header: 'Datasets bytes', value: (p) => p.datasets_bytes, align: 'right' },
      { header: 'Models bytes', value: (p) => p.models_bytes, align: 'right' },
      { header: 'GB added', value: (p) => p.gb_added, align: 'right' },
    ], (p) => p.gb_added)
    title(io, 'Largest datasets')
    await printTable(io, [
      { header: 'Dataset', value: (d) => d.id },
      { header: 'Name', value: (d) => d.name },
      { header: 'Size MB', value: (d) => d.size_mb, align: 'right' },
    ], s.largest_datasets)
  }
  if (r.errors) {
    const e = r.errors
    title(io, `Errors by type (${e.by_type.window})`)
    await printTable(io, [
      { header: 'Error type', value: (t) => t.error_type },
      { header: 'Count', value: (t) => t.count, align: 'right' },
      { header: 'Last occurred', value: (t) => t.last_occurred },
    ], e.by_type.types)
    title(io, 'Recent failed jobs')
    await printTable(io, [
      { header: 'Job', value: (j) => j.id, id: true },
      { header: 'Error type', value: (j) => j.error_type },
      { header: 'Error', value: (j) => (j.error_message ?? '').slice(0, 80) },
      { header: 'Created', value: (j) => j.created_at },
    ], e.recent_failed)
  }
  if (r.users) {
    const u = r.users
    title(io, 'Users (this month)')
    fields(io, [
      ['Active users', u.active],
      ['New users', u.new],
      ['At their monthly limit', u.at_limit],
    ])
    title(io, 'Top users (this month)')
    await printTable(io, [
      { header: 'User', value: (t) => t.user_id },
      { header: 'Jobs', value: (t) => t.jobs, align: 'right' },
      { header: 'Completed', value: (t) => t.completed, align: 'right' },
      { header: 'Failed', value: (t) => t.failed, align: 'right' },
      { header: 'Success rate', value: (t) => pct(t.success_rate), align: 'right' },
      { header: 'Cost', value: (t) => t.total_cost.toFixed(2), align: 'right' },
    ], u.top)
  }
}
