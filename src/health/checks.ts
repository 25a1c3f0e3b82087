import type { Context } from '../context.js'
import type { Db } from '../db/types.js'
import type { AlertsConfig, ResolvedConfig } from '../config/schema.js'
import type { Storage } from '../storage/types.js'
import { PLATFORM_BUCKETS } from '../storage/buckets.js'
import { schemaStatus } from '../db/migrate.js'
import { countActiveJobs, listStuckJobs } from '../db/queries/metrics.js'
import { readJobOutcomes } from '../metrics/outcomes.js'
import { countOpenOrphans, pingDatabase, readLatestHeartbeat } from '../db/queries/health.js'
import { readMonthSpend } from '../metrics/series.js'
import { storageQuotaBytes, failureRateLevel, RULE_WINDOWS } from '../alerts/rules.js'
import { formatDuration } from '../config/duration.js'
import { gigabytes, minutes, money, percent, round } from '../metrics/format.js'
import { sumDatasetStorage, sumModelStorage } from '../db/queries/metrics.js'

export type CheckStatus = 'ok' | 'warning' | 'critical'

/** One line of `lora health`: the figure, the thresholds it is held to, and where it stands. */
export interface CheckResult {
  name: string
  status: CheckStatus
  message: string
  value: number | null
  unit: string | null
  threshold: { warning: number | null; critical: number | null }
  duration_ms: number
}

/** The checks, in the order they are reported. `cluster` is one check per GPU cluster (`cluster:NAME`). */
export const CHECK_NAMES = ['database', 'schema', 'buckets', 'cluster', 'queue', 'failed-jobs', 'stuck-jobs', 'daemon', 'orphans', 'budget', 'storage'] as const
export type CheckName = (typeof CHECK_NAMES)[number]

/** A database round trip slower than this is a warning. */
export const DB_LATENCY_WARNING_MS = 1_000
/** The buckets the platform cannot work without (seed 000's health check, and the validation images). */
export const REQUIRED_BUCKETS = PLATFORM_BUCKETS

export interface CheckEnv {
  ctx: Context
  config: ResolvedConfig
  alerts: AlertsConfig
  now: Date
  db: () => Promise<Db>
  storage: () => Promise<Storage>
  signal: AbortSignal
}

type Outcome = Omit<CheckResult, 'name' | 'duration_ms'>
const result = (status: CheckStatus, message: string, value: number | null = null, unit: string | null = null, warning: number | null = null, critical: number | null = null): Outcome => ({
  status,
  message,
  value,
  unit,
  threshold: { warning, critical },
})

/** Runs fn with the database, or reports that the database is out of reach. */
async function withDb(env: CheckEnv, fn: (db: Db) => Promise<Outcome>): Promise<Outcome> {
  let db: Db
  try {
    db = await env.db()
  } catch (error) {
    return result('critical', `not checked: ${(error as Error).message.replace(/\.$/, '')}`)
  }
  return fn(db)
}

export const CHECKS: Record<Exclude<CheckName, 'cluster'>, (env: CheckEnv) => Promise<Outcome>> = {
  async database(env) {
    let db: Db
    let latency: number
    try {
      db = await env.db()
      // The round trip of a query on the open connection: opening an embedded
      // database, or a TLS handshake, is not the latency the platform sees.
      const started = env.ctx.clock.now().getTime()
      await pingDatabase(db)
      latency = env.ctx.clock.now().getTime() - started
    } catch (error) {
      return result('critical', `unreachable: ${(error as Error).message.replace(/\.$/, '')}`, null, 'ms', DB_LATENCY_WARNING_MS)
    }
    return result(latency >= DB_LATENCY_WARNING_MS ? 'warning' : 'ok', `reachable in ${latency} ms (${db.kind})`, latency, 'ms', DB_LATENCY_WARNING_MS)
  },

  schema: (env) =>
    withDb(env, async (db) => {
      const s = await schemaStatus(db)
      const version = s.applied.length ? Math.max(...s.applied.map((a) => a.version)) : 0
      if (s.applied.length === 0) return result('critical', 'no lora schema yet: run `lora db migrate`', 0)
      if (s.pending.length) return result('critical', `version ${version}, ${s.pending.length} migration(s) pending: run \`lora db migrate\``, version)
      if (s.drift.length) {
        const d = s.drift[0]!
        return result('critical', `drifted: ${d.table}${d.column ? `.${d.column}` : ''} ${d.problem.replace('_', ' ')}${s.drift.length > 1 ? ` and ${s.drift.length - 1} more` : ''}`, version)
      }
      if (s.changed.length) return result('warning', `version ${version}; migration ${s.changed[0]!.version} was applied from a different text`, version)
      return result('ok', `version ${version}, current`, version)
    }),

  async buckets(env) {
    if (!env.config.storage) return result('critical', `profile ${env.config.profile} has no storage: set SUPABASE_URL and SUPABASE_SERVICE_ROLE_KEY, or LORA_STORAGE_DIR`)
    const storage = await env.storage()
    const present = await Promise.all(REQUIRED_BUCKETS.map((b) => storage.bucketExists(b)))
    const missing = REQUIRED_BUCKETS.filter((_, i) => !present[i])
    if (missing.length) return result('critical', `missing: ${missing.join(', ')}`, missing.length, 'missing', null, 1)
    return result('ok', `${REQUIRED_BUCKETS.join(', ')} present`, 0, 'missing', null, 1)
  },

  queue: (env) =>
    withDb(env, async (db) => {
      const a = await countActiveJobs(db)
      const status = a.queued > env.alerts.queueDepth ? 'warning' : 'ok'
      return result(status, `${a.queued} queued, ${a.initializing + a.running} running`, a.queued, 'jobs', env.alerts.queueDepth)
    }),

  'failed-jobs': (env) =>
    withDb(env, async (db) => {
      const { failed, finished, failureRate } = await readJobOutcomes(db, new Date(env.now.getTime() - RULE_WINDOWS.failureRate))
      const w = round(env.alerts.failureRate.warning * 100)
      const c = round(env.alerts.failureRate.critical * 100)
      const rate = failureRate ?? 0
      const text = `${failed} failed of ${finished} finished, created in 24 h (${percent(rate)})`
      if (finished < Math.max(1, env.alerts.failureRate.minJobs)) return result('ok', `${text}: too few jobs to rate`, round(rate), '%', w, c)
      return result((failureRateLevel(rate, env.alerts) as CheckStatus | null) ?? 'ok', text, round(rate), '%', w, c)
    }),

  'stuck-jobs': (env) =>
    withDb(env, async (db) => {
      const stuck = await listStuckJobs(db, new Date(env.now.getTime() - env.alerts.stuckAfterMs), 100)
      const limit = formatDuration(env.alerts.stuckAfterMs)
      const more = stuck.length === 100 ? ' or more' : ''
      if (stuck.length === 0) return result('ok', `no job running longer than ${limit}`, 0, 'jobs', 0)
      return result('warning', `${stuck.length}${more} job(s) running longer than ${limit}, oldest ${stuck[0]!.id}`, stuck.length, 'jobs', 0)
    }),

  daemon: (env) =>
    withDb(env, async (db) => {
      const [hb, a] = await Promise.all([readLatestHeartbeat(db), countActiveJobs(db)])
      const waiting = a.queued + a.initializing + a.running
      const limit = env.alerts.workerDownAfterMs / 60_000
      const ageMin = hb.last_cycle_at ? (env.now.getTime() - hb.last_cycle_at.getTime()) / 60_000 : null
      if (ageMin !== null && ageMin < limit) {
        return result('ok', `last cycle ${minutes(ageMin)} ago, ${hb.running} daemon(s) running`, round(ageMin), 'min', round(limit), round(limit))
      }
      const what = ageMin === null ? 'no daemon has completed a cycle' : `no daemon cycle for ${minutes(ageMin)}`
      return result(waiting > 0 ? 'critical' : 'warning', `${what}${waiting > 0 ? ` while ${waiting} job(s) wait` : ' (no jobs waiting)'}`, round(ageMin), 'min', round(limit), round(limit))
    }),

  orphans: (env) =>
    withDb(env, async (db) => {
      const o = await countOpenOrphans(db)
      if (o.open === 0) return result('ok', 'no orphaned instance', 0, 'instances', 0, null)
      const cost = o.hourly_cost ? `, about ${money(o.hourly_cost)}/h` : ''
      if (o.failed > 0) return result('critical', `${o.open} orphaned instance(s), cleanup failed for ${o.failed}${cost}`, o.open, 'instances', 0, null)
      return result('warning', `${o.open} orphaned instance(s) awaiting cleanup${cost}`, o.open, 'instances', 0, null)
    }),

  budget: (env) =>
    withDb(env, async (db) => {
      const spend = await readMonthSpend(db, env.now)
      const budget = env.config.budget.monthlyUsd
      const used = (spend.total * 100) / budget
      const w = round(env.alerts.spendRatio * 100)
      const status = used >= 100 ? 'critical' : used >= (w ?? 100) ? 'warning' : 'ok'
      return result(status, `${money(spend.total)} of ${money(budget)} this month (${percent(used)})`, round(used), '%', w, 100)
    }),

  storage: (env) =>
    withDb(env, async (db) => {
      const [d, m] = await Promise.all([sumDatasetStorage(db), sumModelStorage(db)])
      const quota = storageQuotaBytes(env.config)
      const used = d.bytes + m.bytes
      const ratio = (used * 100) / quota
      const w = round(env.alerts.storageRatio * 100)
      const status = ratio >= 100 ? 'critical' : ratio >= (w ?? 100) ? 'warning' : 'ok'
      return result(status, `${gigabytes(used)} of ${gigabytes(quota, 0)} (${percent(ratio)})`, round(ratio), '%', w, 100)
    }),
}

/** One check per GPU cluster: reachable (one ping, no retries) and its breaker closed. */
export async function clusterChecks(env: CheckEnv, only: string[] | null): Promise<{ name: string; run: () => Promise<Outcome> }[]> {
  if (env.config.clusters.length === 0) {
    return [{ name: 'cluster', run: async () => result('critical', `profile ${env.config.profile} has no GPU cluster: set GPU_CLUSTER_API_URL`) }]
  }
  const names = env.config.clusters.map((c) => c.name).filter((n) => !only || only.includes(n))
  return names.map((name) => ({
    name: `cluster:${name}`,
    run: async () => {
      const set = await env.ctx.clusters()
      const handle = set.get(name)
      let latency: number | null = null
      let error: string | null = null
      try {
        latency = Math.round(await handle.client.ping({ signal: env.signal }))
      } catch (e) {
        error = (e as Error).message.replace(/\.$/, '')
      }
      const row = await handle.breaker.read()
      const state = row?.state ?? 'closed'
      const breaker = state === 'closed' ? 'breaker closed' : state === 'open' ? `breaker open${row?.open_until ? ` until ${row.open_until.toISOString()}` : ''}` : 'breaker half-open'
      if (error) return result('critical', `unreachable: ${error}; ${breaker}`, null, 'ms')
      const status: CheckStatus = state === 'open' ? 'critical' : state === 'half_open' ? 'warning' : 'ok'
      return result(status, `reachable in ${latency} ms; ${breaker}`, latency, 'ms')
    },
  }))
}
