import { hostname } from 'node:os'
import { randomBytes } from 'node:crypto'
import type { Context } from '../context.js'
import type { Log } from '../log.js'
import { createLog } from '../log.js'
import { runCycle, type CycleEnv, type CycleOptions, type CycleReport } from './cycle.js'
import { beatHeart, countJobsByStatus, markDaemonStopped } from '../db/queries/heartbeats.js'
import { releaseDaemonLeases } from '../db/queries/poll.js'
import { ExitCode, LoraError } from '../errors.js'
import { rideOutStrayConnectionFailures } from '../db/failures.js'
import { systemClock } from '../clock.js'
import type { HealthState } from './server.js'

export interface DaemonOptions extends CycleOptions {
  once: boolean
  intervalMs: number
  listen?: { host: string; port: number }
  logFormat?: 'json' | 'pretty'
  /** Run after each successful cycle (alert evaluation, periodic tasks), drained on exit. */
  hooks?: import('./hooks.js').DaemonHooks
  /** The clock of the heartbeat (real time unless a test says otherwise); see keeper.ts. */
  keeperClock?: import('../clock.js').Clock
}

/** Backoff after failed cycles: the interval doubled per failure, at most 5 minutes. */
export function failureBackoffMs(intervalMs: number, failures: number): number {
  return Math.min(intervalMs * 2 ** Math.min(failures, 10), 5 * 60_000)
}

export interface Metrics {
  registry: import('prom-client').Registry
  cycle: import('prom-client').Histogram
  jobs: import('prom-client').Gauge
  submissions: import('prom-client').Counter
  clusterErrors: import('prom-client').Counter
  breaker: import('prom-client').Gauge
  lastSuccess: import('prom-client').Gauge
  cycleFailures: import('prom-client').Counter
}

/**
 * The daemon's Prometheus registry: Node's process metrics under their standard names
 * (process_*, nodejs_*), lora's own under lora_. Every series labelled by cluster starts
 * at 0 for each configured cluster, so rate() works from the first scrape.
 */
export async function createMetrics(clusterNames: string[]): Promise<Metrics> {
  const prom = await import('prom-client')
  const { CLUSTER_ERROR_KINDS } = await import('../cluster/client.js')
  const registry = new prom.Registry()
  prom.collectDefaultMetrics({ register: registry })
  // prom-client serves three gauges twice, once with a counter's _total suffix, which the
  // exposition format's checker rejects: only the gauge names are kept.
  for (const name of ['active_handles', 'active_requests', 'active_resources']) registry.removeSingleMetric(`nodejs_${name}_total`)
  const metrics: Metrics = {
    registry,
    cycle: new prom.Histogram({ name: 'lora_daemon_cycle_duration_seconds', help: 'Duration of daemon cycles', buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30], registers: [registry] }),
    jobs: new prom.Gauge({ name: 'lora_jobs', help: 'Training jobs by status', labelNames: ['status'], registers: [registry] }),
    submissions: new prom.Counter({ name: 'lora_daemon_submissions_total', help: 'Jobs submitted to a GPU cluster', labelNames: ['cluster'], registers: [registry] }),
    clusterErrors: new prom.Counter({ name: 'lora_cluster_call_errors_total', help: 'Failed GPU cluster calls by cluster and kind', labelNames: ['cluster', 'kind'], registers: [registry] }),
    breaker: new prom.Gauge({ name: 'lora_cluster_breaker_state', help: 'Circuit breaker state: 0 closed, 1 half-open, 2 open', labelNames: ['cluster'], registers: [registry] }),
    lastSuccess: new prom.Gauge({ name: 'lora_daemon_last_successful_cycle_timestamp_seconds', help: 'Unix time of the last successful cycle', registers: [registry] }),
    cycleFailures: new prom.Counter({ name: 'lora_daemon_cycle_failures_total', help: 'Cycles that failed', registers: [registry] }),
  }
  for (const cluster of clusterNames) {
    metrics.submissions.inc({ cluster }, 0)
    metrics.breaker.set({ cluster }, 0)
    for (const kind of CLUSTER_ERROR_KINDS) metrics.clusterErrors.inc({ cluster, kind }, 0)
  }
  metrics.cycleFailures.inc(0)
  return metrics
}

/**
 * The long-running job processor. Each cycle is independent: a failure (database or
 * cluster outage) is logged, backed off from and retried; SIGTERM/SIGINT finish the
 * cycle in flight, release this daemon's leases and return.
 */
export async function runDaemon(ctx: Context, options: DaemonOptions): Promise<ExitCode> {
  const log = await createLog(ctx.io, { clock: ctx.clock, ...(options.logFormat ? { format: options.logFormat } : {}) })
  const daemonId = `${hostname()}:${process.pid}:${randomBytes(3).toString('hex')}`
  const config = await ctx.config()
  // A connection that dies between two statements (the database restarting) can
  // surface as an error no promise awaits; for a long-running daemon that is an outage
  // to ride out, not a reason to die. Anything else is still fatal.
  const stopRiding = rideOutStrayConnectionFailures(
    (error) => log.warn('a database connection failed outside a cycle; it is reopened on next use', { error: error.message }),
    (error) => log.error('unexpected failure; the daemon stops', { error: (error as Error)?.stack ?? String(error) }),
  )
  let db: Awaited<ReturnType<Context['db']>>
  let clusters: Awaited<ReturnType<Context['clusters']>>
  try {
    db = await ctx.db()
    clusters = await ctx.clusters()
  } catch (error) {
    stopRiding()
    throw error
  }
  const metrics = options.listen ? await createMetrics(clusters.list.map((c) => c.config.name)) : null
  const health: HealthState = { failures: 0, lastSuccess: null, lastCycle: null, clusters: clusters.list.map((c) => ({ name: c.config.name, breaker: 'closed', openUntil: null, lastError: null })) }
  let server: { url: string; close(): Promise<void> } | null = null
  if (options.listen && metrics) {
    const { startDaemonServer } = await import('./server.js')
    server = await startDaemonServer(options.listen.host, options.listen.port, metrics.registry, () => health)
    log.info('serving /healthz and /metrics', { url: server.url })
  }
  // The folder storage's signed URLs (the embedded stack) are served by the daemon too.
  let storageServer: { close(): Promise<void> } | null = null
  if (config.storage?.kind === 'folder') {
    const { serveFolderStorage } = await import('../storage/server.js')
    storageServer = await serveFolderStorage(config.storage.dir, { clock: ctx.clock })
  }
  if (config.storage) {
    // A fresh project has no buckets: without them every artifact copy would fail.
    try {
      const { ensurePlatformBuckets } = await import('../storage/buckets.js')
      await ensurePlatformBuckets(await ctx.storage())
    } catch (error) {
      log.warn('could not create the storage buckets; artifact copies fail until they exist', { error: (error as Error).message })
    }
  }
  const env: CycleEnv = {
    db,
    clusters,
    storage: () => ctx.storage(),
    clock: ctx.clock,
    config,
    log,
    daemonId,
    signal: ctx.signal,
  }
  log.info('daemon started', { daemon_id: daemonId, profile: config.profile, clusters: clusters.list.map((c) => c.config.name), once: options.once })
  const { startKeeper } = await import('./keeper.js')
  const keeper = await startKeeper({
    db,
    daemonId,
    host: hostname(),
    pid: process.pid,
    version: LORA_VERSION,
    cycleIntervalMs: options.intervalMs,
    leaseMs: config.training.leaseMs,
    clock: options.keeperClock ?? systemClock,
    log,
  })

  let lastError: string | null = null
  while (!ctx.signal.aborted) {
    const started = ctx.clock.now()
    const endTimer = metrics?.cycle.startTimer()
    try {
      const report = await runCycle(env, options)
      const ms = ctx.clock.now().getTime() - started.getTime()
      const touched = report.submitted + report.polled + report.released + report.leasesExpired
      await beatHeart(db, { daemonId, host: hostname(), pid: process.pid, version: LORA_VERSION, now: ctx.clock.now(), cycleMs: ms, jobsTouched: touched, error: null })
      for (const hook of options.hooks?.afterCycle ?? []) {
        try {
          await hook(ctx, log, report)
        } catch (error) {
          log.error('a post-cycle task failed', { error: (error as Error).message })
        }
      }
      health.failures = 0
      health.lastSuccess = ctx.clock.now()
      health.lastCycle = { at: started, ok: true, ms, error: null }
      lastError = null
      if (metrics) await updateMetrics(metrics, health, report, clusters.list.map((c) => c.breaker), db, ctx.clock.now())
      endTimer?.()
      log.info('cycle done', { ms, ...summary(report) })
    } catch (error) {
      endTimer?.()
      health.failures += 1
      metrics?.cycleFailures.inc()
      lastError = error instanceof LoraError ? error.message : (error as Error).message
      health.lastCycle = { at: started, ok: false, ms: ctx.clock.now().getTime() - started.getTime(), error: lastError }
      log.error('cycle failed; backing off', { error: lastError, consecutive_failures: health.failures })
      await options.hooks?.onCycleError(ctx, log, lastError, health.failures).catch((e: Error) => log.error('could not raise the alert', { error: e.message }))
      await beatHeart(db, { daemonId, host: hostname(), pid: process.pid, version: LORA_VERSION, now: ctx.clock.now(), cycleMs: null, jobsTouched: 0, error: lastError }).catch(() => {})
    }
    if (options.once) break
    const elapsed = ctx.clock.now().getTime() - started.getTime()
    const wait = health.failures > 0 ? failureBackoffMs(options.intervalMs, health.failures) : Math.max(0, options.intervalMs - elapsed)
    try {
      await ctx.clock.sleep(wait, ctx.signal)
    } catch {
      break
    }
  }

  await options.hooks?.drain()
  await keeper.stop()
  stopRiding()
  try {
    const released = await releaseDaemonLeases(db, daemonId)
    await markDaemonStopped(db, daemonId)
    log.info('daemon stopped', { daemon_id: daemonId, leases_released: released })
  } catch (error) {
    log.warn('could not release leases on the way out; they expire on their own', { error: (error as Error).message })
  }
  await server?.close()
  await storageServer?.close()
  return options.once && lastError ? ExitCode.failed : ExitCode.ok
}

function summary(report: CycleReport): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(report)) {
    if (typeof value === 'number' ? value !== 0 : Array.isArray(value) ? value.length > 0 : value && typeof value === 'object' ? Object.keys(value).length > 0 : value !== null) out[key] = value
  }
  return out
}

async function updateMetrics(
  metrics: Metrics,
  health: HealthState,
  report: CycleReport,
  breakers: { cluster: string; read(): Promise<import('../db/queries/breakers.js').BreakerRow | null> }[],
  db: import('../db/types.js').Db,
  now: Date,
): Promise<void> {
  metrics.lastSuccess.set(now.getTime() / 1000)
  for (const [cluster, n] of Object.entries(report.submittedTo)) metrics.submissions.inc({ cluster }, n)
  for (const [cluster, kinds] of Object.entries(report.clusterCallErrors)) {
    for (const [kind, n] of Object.entries(kinds)) metrics.clusterErrors.inc({ cluster, kind }, n)
  }
  const counts = await countJobsByStatus(db)
  for (const status of ['queued', 'initializing', 'running', 'completed', 'failed', 'cancelled']) metrics.jobs.set({ status }, counts[status] ?? 0)
  const seen: HealthState['clusters'] = []
  for (const breaker of breakers) {
    const row = await breaker.read()
    metrics.breaker.set({ cluster: breaker.cluster }, row?.state === 'open' ? 2 : row?.state === 'half_open' ? 1 : 0)
    seen.push({ name: breaker.cluster, breaker: row?.state ?? 'closed', openUntil: row?.open_until ?? null, lastError: row?.last_error ?? null })
  }
  health.clusters = seen
}
