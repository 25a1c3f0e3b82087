import type { Queryable } from '../types.js'
import { monthPartSql } from './budget.js'
import { monthKey } from '../../month.js'

/**
 * What `lora health` and the alert rules read besides the metrics: the daemons'
 * heartbeats, orphaned instances, breakers, spend and training timeouts. Times are
 * parameters from the injected clock.
 */
export const HEALTH_SQL = {
  ping: 'SELECT 1 AS ok',
  latestHeartbeat: `
    SELECT max(last_cycle_at) AS last_cycle_at, count(*) FILTER (WHERE status = 'running')::int AS running
      FROM lora_ops.daemon_heartbeats`,
  openOrphans: `
    SELECT cluster, external_job_id, job_id, status, attempts, estimated_hourly_cost, first_seen_at, last_error
      FROM lora_ops.orphaned_instances
     WHERE status IN ('detected', 'cancelling', 'failed')
     ORDER BY first_seen_at, cluster, external_job_id LIMIT $1`,
  countOpenOrphans: `
    SELECT count(*)::int AS open, count(*) FILTER (WHERE status = 'failed')::int AS failed,
           coalesce(sum(estimated_hourly_cost), 0)::float8 AS hourly_cost
      FROM lora_ops.orphaned_instances WHERE status IN ('detected', 'cancelling', 'failed')`,
  unclosedBreakers: `
    SELECT cluster, state, opened_at, open_until, last_error FROM lora_ops.circuit_breakers
     WHERE state <> 'closed' ORDER BY cluster`,
  // What active jobs have cost this month ($1 "YYYY-MM"): with the costs recorded this
  // month, the month's spend as the budget counts it (src/db/queries/budget.ts).
  runningCost: `
    SELECT coalesce(sum(${monthPartSql('$1')}), 0)::float8 AS running FROM training_jobs WHERE status IN ('initializing', 'running')`,
  trainingTimeouts: `
    SELECT count(*)::int AS n, max(completed_at) AS last_at FROM training_jobs
     WHERE status = 'failed' AND completed_at > $1 AND error_type = $2`,
} as const

export async function pingDatabase(q: Queryable): Promise<void> {
  await q.query(HEALTH_SQL.ping)
}

export async function readLatestHeartbeat(q: Queryable): Promise<{ last_cycle_at: Date | null; running: number }> {
  return (await q.query<{ last_cycle_at: Date | null; running: number }>(HEALTH_SQL.latestHeartbeat))[0]!
}

export interface OpenOrphan {
  cluster: string
  external_job_id: string
  job_id: string | null
  status: 'detected' | 'cancelling' | 'failed'
  attempts: number
  estimated_hourly_cost: number | null
  first_seen_at: Date
  last_error: string | null
}

export function listOpenOrphans(q: Queryable, limit: number): Promise<OpenOrphan[]> {
  return q.query<OpenOrphan>(HEALTH_SQL.openOrphans, [limit])
}

export async function countOpenOrphans(q: Queryable): Promise<{ open: number; failed: number; hourly_cost: number }> {
  return (await q.query<{ open: number; failed: number; hourly_cost: number }>(HEALTH_SQL.countOpenOrphans))[0]!
}

export interface UnclosedBreaker {
  cluster: string
  state: 'open' | 'half_open'
  opened_at: Date | null
  open_until: Date | null
  last_error: string | null
}

export function listUnclosedBreakers(q: Queryable): Promise<UnclosedBreaker[]> {
  return q.query<UnclosedBreaker>(HEALTH_SQL.unclosedBreakers)
}

export async function sumRunningCost(q: Queryable, now: Date): Promise<number> {
  return (await q.query<{ running: number }>(HEALTH_SQL.runningCost, [monthKey(now)]))[0]!.running
}

export async function countTrainingTimeouts(q: Queryable, since: Date, errorType: string): Promise<{ n: number; last_at: Date | null }> {
  return (await q.query<{ n: number; last_at: Date | null }>(HEALTH_SQL.trainingTimeouts, [since, errorType]))[0]!
}

/** The statements on the large platform tables, for the plan test and the benchmark. */
export function explainableHealthQueries(now: Date): { name: string; sql: string; params: unknown[] }[] {
  return [
    { name: 'runningCost', sql: HEALTH_SQL.runningCost, params: [monthKey(now)] },
    { name: 'trainingTimeouts', sql: HEALTH_SQL.trainingTimeouts, params: [new Date(now.getTime() - 86_400_000), 'TIMEOUT_ERROR'] },
  ]
}
