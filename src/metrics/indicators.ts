import type { AlertsConfig } from '../config/schema.js'
import type { MetricsReport, Section } from './collect.js'
import { round } from './format.js'

export type IndicatorStatus = 'ok' | 'warning' | 'critical' | 'no_data'

/** A figure with thresholds from the profile, and where it stands (seed 002's health indicators). */
export interface Indicator {
  name: string
  section: Section
  label: string
  value: number | null
  unit: string
  status: IndicatorStatus
  /** Thresholds: reached when the value is at or beyond them, in `direction`. */
  warning: number | null
  critical: number | null
  direction: 'above' | 'below'
  /** True when reaching a threshold counts (>=); false when it must be passed (>). */
  inclusive: boolean
}

export function levelOf(value: number | null, warning: number | null, critical: number | null, direction: 'above' | 'below', strict = false): IndicatorStatus {
  if (value === null) return 'no_data'
  const beyond = (t: number | null) =>
    t !== null && (direction === 'above' ? (strict ? value > t : value >= t) : strict ? value < t : value <= t)
  if (beyond(critical)) return 'critical'
  if (beyond(warning)) return 'warning'
  return 'ok'
}

export function buildIndicators(r: MetricsReport, a: AlertsConfig): Indicator[] {
  const out: Indicator[] = []
  const add = (i: Omit<Indicator, 'status' | 'inclusive'>, strict = false) =>
    out.push({ ...i, inclusive: !strict, status: levelOf(i.value, i.warning, i.critical, i.direction, strict) })
  const fw = round(a.failureRate.warning * 100)
  const fc = round(a.failureRate.critical * 100)
  if (r.jobs) {
    const j = r.jobs
    add({ name: 'jobs.queue_depth', section: 'jobs', label: 'Queue depth', value: j.queue_depth, unit: 'jobs', warning: a.queueDepth, critical: null, direction: 'above' }, true)
    add({ name: 'jobs.failure_rate', section: 'jobs', label: `Job failure rate (${j.failure_rate.window})`, value: j.failure_rate.value, unit: '%', warning: fw, critical: fc, direction: 'above' })
    // The success rate's bands mirror the failure rate's: 10 % failing is 90 % succeeding.
    add({ name: 'jobs.success_rate', section: 'jobs', label: `Job success rate (${j.success_rate.window})`, value: j.success_rate.value, unit: '%', warning: round(100 - (fw ?? 0)), critical: round(100 - (fc ?? 0)), direction: 'below' }, true)
    add({ name: 'jobs.stuck', section: 'jobs', label: 'Stuck jobs', value: j.stuck.count, unit: 'jobs', warning: 0, critical: null, direction: 'above' }, true)
  }
  if (r.datasets) {
    const d = r.datasets
    add({ name: 'datasets.avg_validation_minutes', section: 'datasets', label: `Validation time (${d.avg_validation_minutes.window})`, value: d.avg_validation_minutes.value, unit: 'min', warning: round(a.slowValidationMs / 60_000), critical: null, direction: 'above' }, true)
  }
  if (r.cost) {
    const c = r.cost
    add({ name: 'cost.avg_cost_per_job', section: 'cost', label: `Average cost per job (${c.avg_cost_per_job.window})`, value: c.avg_cost_per_job.value, unit: 'USD', warning: a.avgCostPerJob, critical: null, direction: 'above' }, true)
    add({ name: 'cost.budget_used', section: 'cost', label: 'Monthly budget used', value: c.month_to_date.used_percent, unit: '%', warning: round(a.spendRatio * 100), critical: 100, direction: 'above' })
  }
  if (r.storage) {
    add({ name: 'storage.quota_used', section: 'storage', label: 'Storage quota used', value: r.storage.used_percent, unit: '%', warning: round(a.storageRatio * 100), critical: 100, direction: 'above' })
  }
  return out
}
