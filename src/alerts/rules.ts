import type { Queryable } from '../db/types.js'
import type { AlertsConfig, ResolvedConfig } from '../config/schema.js'
import { DEFAULTS } from '../config/schema.js'
import { formatDuration } from '../config/duration.js'
import { ERROR_TYPES } from '../jobs/error-types.js'
import {
  averageValidationTime,
  countActiveJobs,
  listStuckJobs,
  sumCostPerJob,
  sumDatasetStorage,
  sumModelStorage,
} from '../db/queries/metrics.js'
import { countTrainingTimeouts, listOpenOrphans, listUnclosedBreakers, readLatestHeartbeat } from '../db/queries/health.js'
import { readMonthSpend } from '../metrics/series.js'
import { readJobOutcomes } from '../metrics/outcomes.js'
import { listCostOverruns } from '../db/queries/budget.js'
import { gigabytes, minutes, money, percent, round } from '../metrics/format.js'
import type { AlertSeverity, Observation } from './types.js'

export interface RuleInput {
  db: Queryable
  config: ResolvedConfig
  alerts: AlertsConfig
  now: Date
}

export interface RuleResult {
  observations: Observation[]
  /**
   * False when the rule saw only part of its subjects (a capped list): its other
   * alerts are then left as they are rather than resolved.
   */
  complete: boolean
}

export interface RuleSpec {
  name: string
  description: string
  /** Evaluated from the database by evaluateAlerts; the others are raised by the daemon. */
  evaluate?: (input: RuleInput) => Promise<RuleResult>
}

const H = 3_600_000
const D = 24 * H
/** The window of the failure-rate, slow-validation (24 h) and cost-per-job (7 d) rules. */
export const RULE_WINDOWS = { failureRate: D, slowValidation: D, costPerJob: 7 * D } as const
/** At most this many subjects of one rule (stuck jobs, orphans) per evaluation. */
const MAX_SUBJECTS = 200

const obs = (rule: string, severity: AlertSeverity, message: string, extra: Partial<Observation> = {}): Observation => ({
  rule,
  subject: '',
  severity,
  message,
  source: 'rule',
  ...extra,
})
const done = (observations: Observation[], complete = true): RuleResult => ({ observations, complete })

export function storageQuotaBytes(config: ResolvedConfig): number {
  return config.storage?.quotaBytes ?? DEFAULTS.storageQuotaGb * 1024 ** 3
}

/** Failure rate over a window (seed 000), in percent of the finished jobs created in it (readJobOutcomes). */
export function failureRateLevel(rate: number, a: AlertsConfig): AlertSeverity | null {
  if (rate >= a.failureRate.critical * 100) return 'critical'
  if (rate >= a.failureRate.warning * 100) return 'warning'
  return null
}

export const RULES: RuleSpec[] = [
  {
    name: 'stuck-jobs',
    description: 'a job has been running longer than alerts.stuckAfter (2 h)',
    async evaluate({ db, alerts, now }) {
      const jobs = await listStuckJobs(db, new Date(now.getTime() - alerts.stuckAfterMs), MAX_SUBJECTS + 1)
      return done(
        jobs.slice(0, MAX_SUBJECTS).map((j) => {
          const hours = (now.getTime() - j.started_at.getTime()) / H
          return obs('stuck-jobs', 'warning', `Training job ${j.id} has been running for ${hours.toFixed(1)} h (limit ${formatDuration(alerts.stuckAfterMs)})${j.cluster_name ? ` on cluster ${j.cluster_name}` : ''}.`, {
            subject: j.id,
            value: round(hours),
            threshold: round(alerts.stuckAfterMs / H),
          })
        }),
        jobs.length <= MAX_SUBJECTS,
      )
    },
  },
  {
    name: 'queue-depth',
    description: 'more than alerts.queueDepth (50) jobs queued for alerts.queueFor (30 min)',
    async evaluate({ db, alerts }) {
      const { queued } = await countActiveJobs(db)
      if (queued <= alerts.queueDepth) return done([])
      return done([
        obs('queue-depth', 'critical', `Queue depth is ${queued} jobs (threshold ${alerts.queueDepth} for ${formatDuration(alerts.queueForMs)}).`, {
          value: queued,
          threshold: alerts.queueDepth,
          forMs: alerts.queueForMs,
        }),
      ])
    },
  },
  {
    name: 'failure-rate',
    description: 'failed share of the jobs created in 24 h that finished, at or above alerts.failureRateWarning (10 %) / Critical (20 %)',
    async evaluate({ db, alerts, now }) {
      const { failed, finished, failureRate: rate } = await readJobOutcomes(db, new Date(now.getTime() - RULE_WINDOWS.failureRate))
      if (rate === null || finished < alerts.failureRate.minJobs) return done([])
      const level = failureRateLevel(rate, alerts)
      if (!level) return done([])
      const threshold = (level === 'critical' ? alerts.failureRate.critical : alerts.failureRate.warning) * 100
      return done([
        obs('failure-rate', level, `LoRA training failure rate is ${percent(rate)} over 24 h: ${failed} of ${finished} finished jobs (threshold: ${percent(threshold, 0)}).`, {
          value: round(rate),
          threshold: round(threshold),
        }),
      ])
    },
  },
  {
    name: 'breaker-open',
    description: "a GPU cluster's circuit breaker is open (or probing half-open)",
    async evaluate({ db }) {
      const breakers = await listUnclosedBreakers(db)
      return done(
        breakers.map((b) =>
          obs(
            'breaker-open',
            'critical',
            b.state === 'open'
              ? `GPU cluster ${b.cluster}'s circuit breaker is open${b.open_until ? ` until ${b.open_until.toISOString()}` : ''}${b.last_error ? ` (last error: ${b.last_error})` : ''}.`
              : `GPU cluster ${b.cluster}'s circuit breaker is half-open: one probe decides whether it closes.`,
            { subject: b.cluster },
          ),
        ),
      )
    },
  },
  {
    name: 'orphaned-instances',
    description: 'the cluster runs training the platform does not track (critical once cleanup failed)',
    async evaluate({ db }) {
      const orphans = await listOpenOrphans(db, MAX_SUBJECTS + 1)
      return done(
        orphans.slice(0, MAX_SUBJECTS).map((o) =>
          obs(
            'orphaned-instances',
            o.status === 'failed' ? 'critical' : 'warning',
            `Orphaned GPU instance detected: ${o.external_job_id} on cluster ${o.cluster}` +
              (o.status === 'failed' ? `, cleanup failed after ${o.attempts} attempts` : ` (${o.status})`) +
              (o.estimated_hourly_cost ? `, about ${money(o.estimated_hourly_cost)}/h` : '') +
              '.',
            { subject: `${o.cluster}/${o.external_job_id}`, value: o.estimated_hourly_cost ?? null },
          ),
        ),
        orphans.length <= MAX_SUBJECTS,
      )
    },
  },
  {
    name: 'worker-down',
    description: 'no daemon cycle for alerts.workerDownAfter (10 min) while jobs are queued or running',
    async evaluate({ db, alerts, now }) {
      const [heartbeat, active] = await Promise.all([readLatestHeartbeat(db), countActiveJobs(db)])
      const waiting = active.queued + active.initializing + active.running
      if (waiting === 0) return done([])
      const last = heartbeat.last_cycle_at
      const ageMs = last ? now.getTime() - last.getTime() : null
      if (ageMs !== null && ageMs < alerts.workerDownAfterMs) return done([])
      return done([
        obs(
          'worker-down',
          'critical',
          (last
            ? `No daemon has completed a cycle for ${minutes(ageMs! / 60_000)} (last at ${last.toISOString()})`
            : 'No daemon has ever completed a cycle') + ` while ${waiting} job${waiting === 1 ? '' : 's'} wait${waiting === 1 ? 's' : ''} (${active.queued} queued).`,
          { value: ageMs === null ? null : round(ageMs / 60_000), threshold: round(alerts.workerDownAfterMs / 60_000) },
        ),
      ])
    },
  },
  {
    name: 'cost-per-job',
    description: 'average cost per job over 7 days above alerts.avgCostPerJob ($2.50)',
    async evaluate({ db, alerts, now }) {
      const { total_cost, jobs } = await sumCostPerJob(db, new Date(now.getTime() - RULE_WINDOWS.costPerJob), now)
      if (jobs === 0) return done([])
      const avg = total_cost / jobs
      if (avg <= alerts.avgCostPerJob) return done([])
      return done([
        obs('cost-per-job', 'warning', `Average LoRA training cost is ${money(avg)} over 7 days, ${jobs} jobs (threshold: ${money(alerts.avgCostPerJob)}).`, {
          value: round(avg),
          threshold: alerts.avgCostPerJob,
        }),
      ])
    },
  },
  {
    name: 'monthly-spend',
    description: "this month's training spend at alerts.spendRatio (75 %) of the budget; critical at 100 %",
    async evaluate({ db, config, alerts, now }) {
      const spend = await readMonthSpend(db, now)
      const budget = config.budget.monthlyUsd
      const ratio = spend.total / budget
      if (ratio < alerts.spendRatio) return done([])
      const level: AlertSeverity = ratio >= 1 ? 'critical' : 'warning'
      return done([
        obs('monthly-spend', level, `System-wide LoRA training costs are ${money(spend.total)} this month (${percent(ratio * 100, 0)} of the ${money(budget)} monthly budget${level === 'critical' ? ': new jobs are held' : ''}).`, {
          value: round(spend.total),
          threshold: round(level === 'critical' ? budget : budget * alerts.spendRatio),
        }),
      ])
    },
  },
  {
    name: 'cost-overrun',
    description: 'a running job costs more than alerts.costOverrunRatio (1.5) x its estimate: it alone can take spend past the budget',
    async evaluate({ db, alerts }) {
      const jobs = await listCostOverruns(db, alerts.costOverrunRatio, MAX_SUBJECTS + 1)
      return done(
        jobs.slice(0, MAX_SUBJECTS).map((j) =>
          obs('cost-overrun', 'warning', `Training job ${j.id} has cost ${money(j.current_cost)}, ${(j.current_cost / j.estimated_total_cost).toFixed(1)}x its estimate of ${money(j.estimated_total_cost)}.`, {
            subject: j.id,
            value: round(j.current_cost),
            threshold: round(j.estimated_total_cost * alerts.costOverrunRatio),
          }),
        ),
        jobs.length <= MAX_SUBJECTS,
      )
    },
  },
  {
    name: 'storage-quota',
    description: 'datasets and models use alerts.storageRatio (80 %) of storage.quotaGb; critical at 100 %',
    async evaluate({ db, config, alerts }) {
      const [datasets, models] = await Promise.all([sumDatasetStorage(db), sumModelStorage(db)])
      const used = datasets.bytes + models.bytes
      const quota = storageQuotaBytes(config)
      const ratio = used / quota
      if (ratio < alerts.storageRatio) return done([])
      const level: AlertSeverity = ratio >= 1 ? 'critical' : 'warning'
      return done([
        obs('storage-quota', level, `Storage use is ${gigabytes(used)} of the ${gigabytes(quota, 0)} quota (${percent(ratio * 100)}).`, {
          value: round(ratio * 100),
          threshold: round((level === 'critical' ? 1 : alerts.storageRatio) * 100),
        }),
      ])
    },
  },
  {
    name: 'slow-validation',
    description: 'average dataset validation time over 24 h above alerts.slowValidation (5 min)',
    async evaluate({ db, alerts, now }) {
      const { avg_minutes } = await averageValidationTime(db, new Date(now.getTime() - RULE_WINDOWS.slowValidation))
      const limit = alerts.slowValidationMs / 60_000
      if (avg_minutes === null || avg_minutes <= limit) return done([])
      return done([
        obs('slow-validation', 'warning', `Average dataset validation time is ${minutes(avg_minutes)} over 24 h (threshold: ${minutes(limit)}).`, {
          value: round(avg_minutes),
          threshold: round(limit),
        }),
      ])
    },
  },
  {
    name: 'training-timeout',
    description: 'jobs failed for running past training.timeout within alerts.timeoutWindow (24 h)',
    async evaluate({ db, alerts, now }) {
      const { n, last_at } = await countTrainingTimeouts(db, new Date(now.getTime() - alerts.timeoutWindowMs), ERROR_TYPES.timeout)
      if (n === 0) return done([])
      return done([
        obs('training-timeout', 'warning', `${n} training job${n === 1 ? '' : 's'} timed out in the last ${formatDuration(alerts.timeoutWindowMs)}${last_at ? ` (latest at ${last_at.toISOString()})` : ''}: check the cluster and the training parameters.`, {
          value: n,
          threshold: 0,
        }),
      ])
    },
  },
  // Raised by the daemon (raiseAlert); they resolve when no longer raised.
  { name: 'database-errors', description: 'the daemon cannot reach or write the database (raised by the daemon)' },
  { name: 'orphan-cleanup-failed', description: 'an orphaned instance resisted 3 cancel attempts (raised by `lora cleanup orphans`)' },
  { name: 'artifact-upload-failed', description: "a job's artifacts could not be copied into storage after 3 attempts (raised by `lora cleanup uploads`)" },
  { name: 'cost-drift', description: "cost records differ from the cluster's billing by more than 1 % of the month's spend, or billed time no job owns (raised daily by the daemon)" },
  { name: 'daily-summary', description: 'the daily summary at 09:00 (info)' },
]

export const RULE_NAMES = RULES.map((r) => r.name)
export const EVALUATED_RULES = RULES.filter((r): r is RuleSpec & { evaluate: NonNullable<RuleSpec['evaluate']> } => Boolean(r.evaluate))

/**
 * What a resolved notification says: what changed, when, and after how long
 * ("breaker for primary closed at 14:02 UTC after 31m open"), instead of the firing text.
 */
export function resolvedMessage(rule: string, subject: string, startsAt: Date, endsAt: Date): string {
  const at = `${endsAt.toISOString().slice(11, 16)} UTC`
  const lasted = formatDuration(Math.max(0, endsAt.getTime() - startsAt.getTime()))
  switch (rule) {
    case 'breaker-open':
      return `breaker for ${subject} closed at ${at} after ${lasted} open`
    case 'database-errors':
      return `the daemon's cycles succeed again since ${at}, after ${lasted} of failures`
    default:
      return `${rule}${subject ? ` (${subject})` : ''} no longer holds since ${at}, after ${lasted} firing`
  }
}
