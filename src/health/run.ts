import type { Context } from '../context.js'
import type { Db } from '../db/types.js'
import type { Storage } from '../storage/types.js'
import { alertsConfig } from '../config/schema.js'
import { formatDuration } from '../config/duration.js'
import { ExitCode, UsageError } from '../errors.js'
import { CHECKS, CHECK_NAMES, clusterChecks, type CheckEnv, type CheckName, type CheckResult, type CheckStatus } from './checks.js'

export const DEFAULT_CHECK_TIMEOUT_MS = 5_000

export interface HealthReport {
  /** The worst status of the checks run. */
  status: CheckStatus
  checked_at: string
  duration_ms: number
  counts: Record<CheckStatus, number>
  checks: CheckResult[]
}

export interface HealthOptions {
  /** Names from CHECK_NAMES, or cluster:NAME; all when empty. */
  checks?: string[]
  timeoutMs?: number
  /** Tests hand in a storage; otherwise the profile's. */
  storage?: Storage
}

const RANK: Record<CheckStatus, number> = { ok: 0, warning: 1, critical: 2 }

export function worst(statuses: CheckStatus[]): CheckStatus {
  return statuses.reduce<CheckStatus>((a, b) => (RANK[b] > RANK[a] ? b : a), 'ok')
}

/** Exit 1 when a check reaches --fail-on, 0 otherwise. */
export function healthExitCode(report: HealthReport, failOn: 'warning' | 'critical'): ExitCode {
  return RANK[report.status] >= RANK[failOn] ? ExitCode.failed : ExitCode.ok
}

/** Splits --check into the checks to run; an unknown name is a usage error. */
export function selectChecks(names: string[] | undefined, clusters: string[]): { checks: Set<CheckName>; clusters: string[] | null } {
  if (!names?.length) return { checks: new Set(CHECK_NAMES), clusters: null }
  const checks = new Set<CheckName>()
  let only: string[] | null = []
  for (const raw of names) {
    const name = raw.trim()
    if (name.startsWith('cluster:')) {
      const cluster = name.slice('cluster:'.length)
      if (!clusters.includes(cluster)) {
        throw new UsageError(`Unknown check "${name}": no GPU cluster is named "${cluster}"${clusters.length ? ` (clusters: ${clusters.join(', ')})` : ''}.`, { code: 'unknown_check' })
      }
      checks.add('cluster')
      if (only) only.push(cluster)
    } else if ((CHECK_NAMES as readonly string[]).includes(name)) {
      checks.add(name as CheckName)
      if (name === 'cluster') only = null
    } else {
      throw new UsageError(`Unknown check "${name}" (checks: ${CHECK_NAMES.join(', ')}, cluster:NAME).`, { code: 'unknown_check' })
    }
  }
  return { checks, clusters: only && only.length ? only : null }
}

/**
 * Runs the checks concurrently, each under its own timeout: a dependency that hangs
 * is reported critical when its time is up, and cannot hold the others (or a CI gate)
 * hostage. Configuration errors throw (exit 2); everything else is a check's result.
 */
export async function runHealth(ctx: Context, options: HealthOptions = {}): Promise<HealthReport> {
  const config = await ctx.config()
  const selection = selectChecks(options.checks, config.clusters.map((c) => c.name))
  const timeoutMs = options.timeoutMs ?? DEFAULT_CHECK_TIMEOUT_MS
  const started = ctx.clock.now()
  const abort = new AbortController()
  const signal = AbortSignal.any([ctx.signal, abort.signal])
  let dbPromise: Promise<Db> | undefined
  let storagePromise: Promise<Storage> | undefined
  const env: CheckEnv = {
    ctx,
    config,
    alerts: alertsConfig(config),
    now: started,
    // The raw database: a schema that is behind is the schema check's finding, not an error.
    db: () => (dbPromise ??= ctx.rawDb()),
    storage: () => (storagePromise ??= options.storage ? Promise.resolve(options.storage) : ctx.storage()),
    signal,
  }
  const planned: { name: string; run: () => Promise<Omit<CheckResult, 'name' | 'duration_ms'>> }[] = []
  for (const name of CHECK_NAMES) {
    if (!selection.checks.has(name)) continue
    if (name === 'cluster') planned.push(...(await clusterChecks(env, selection.clusters)))
    else planned.push({ name, run: () => CHECKS[name](env) })
  }
  try {
    const checks = await Promise.all(planned.map((p) => runOne(ctx, p.name, p.run, timeoutMs, signal)))
    const counts = { ok: 0, warning: 0, critical: 0 }
    for (const c of checks) counts[c.status] += 1
    return {
      status: worst(checks.map((c) => c.status)),
      checked_at: started.toISOString(),
      duration_ms: ctx.clock.now().getTime() - started.getTime(),
      counts,
      checks,
    }
  } finally {
    // Whatever is still waiting (a hung cluster call) is told to stop.
    abort.abort()
  }
}

async function runOne(
  ctx: Context,
  name: string,
  run: () => Promise<Omit<CheckResult, 'name' | 'duration_ms'>>,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<CheckResult> {
  const started = ctx.clock.now().getTime()
  const stop = new AbortController()
  const cut = (message: string) => ({ status: 'critical' as const, message, value: null, unit: null, threshold: { warning: null, critical: null } })
  // Rejected when the check finished first (nobody listens any more) or on Ctrl-C.
  const timedOut = ctx.clock.sleep(timeoutMs, AbortSignal.any([stop.signal, signal])).then(
    () => cut(`no answer within ${formatDuration(timeoutMs)}`),
    () => cut('interrupted'),
  )
  try {
    const outcome = await Promise.race([
      run().catch((error: unknown) => ({
        status: 'critical' as const,
        message: `failed: ${((error as Error).message ?? String(error)).replace(/\.$/, '')}`,
        value: null,
        unit: null,
        threshold: { warning: null, critical: null },
      })),
      timedOut,
    ])
    return { name, ...outcome, duration_ms: ctx.clock.now().getTime() - started }
  } finally {
    stop.abort()
  }
}
