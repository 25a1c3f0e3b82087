import type { Queryable } from '../types.js'

export interface Heartbeat {
  daemon_id: string
  host: string
  pid: number
  version: string
  started_at: Date
  last_cycle_at: Date | null
  last_cycle_ms: number | null
  jobs_touched: number
  status: 'running' | 'stopped'
  last_error: string | null
}

export async function beatHeart(
  q: Queryable,
  beat: { daemonId: string; host: string; pid: number; version: string; now: Date; cycleMs: number | null; jobsTouched: number; error: string | null },
): Promise<void> {
  await q.query(
    `INSERT INTO lora_ops.daemon_heartbeats (daemon_id, host, pid, version, started_at, last_cycle_at, last_cycle_ms, jobs_touched, status, last_error)
     VALUES ($1, $2, $3, $4, $5, $5, $6, $7, 'running', $8)
     ON CONFLICT (daemon_id) DO UPDATE
        SET last_cycle_at = $5, last_cycle_ms = $6, jobs_touched = lora_ops.daemon_heartbeats.jobs_touched + $7,
            status = 'running', last_error = $8`,
    [beat.daemonId, beat.host, beat.pid, beat.version, beat.now, beat.cycleMs, beat.jobsTouched, beat.error],
  )
}

/**
 * A daemon's sign of life, every few seconds while it runs: its heartbeat on the
 * database's clock, and the leases of the jobs it holds renewed before a third of
 * the lease is gone (rows are rewritten every lease/3, not every beat). Returns how
 * many leases it renewed.
 */
export async function keepAlive(
  q: Queryable,
  beat: { daemonId: string; host: string; pid: number; version: string; intervalMs: number; leaseMs: number },
): Promise<number> {
  const [row] = await q.query<{ renewed: number }>(
    `WITH beat AS (
       INSERT INTO lora_ops.daemon_heartbeats (daemon_id, host, pid, version, beat_at, beat_interval_ms)
       VALUES ($1, $2, $3, $4, now(), $5)
       ON CONFLICT (daemon_id) DO UPDATE SET beat_at = now(), beat_interval_ms = $5, status = 'running'
     ),
     renewed AS (
       UPDATE training_jobs SET lease_expires_at = now() + make_interval(secs => $6::float8 / 1000)
        WHERE claimed_by = $1 AND status IN ('initializing', 'running')
          AND lease_expires_at < now() + make_interval(secs => $6::float8 * 2 / 3000)
       RETURNING id
     )
     SELECT count(*)::int AS renewed FROM renewed`,
    [beat.daemonId, beat.host, beat.pid, beat.version, beat.intervalMs, beat.leaseMs],
  )
  return row?.renewed ?? 0
}

export async function markDaemonStopped(q: Queryable, daemonId: string): Promise<void> {
  await q.query(`UPDATE lora_ops.daemon_heartbeats SET status = 'stopped' WHERE daemon_id = $1`, [daemonId])
}

export async function countJobsByStatus(q: Queryable): Promise<Record<string, number>> {
  const rows = await q.query<{ status: string; n: number }>('SELECT status, count(*)::int AS n FROM training_jobs GROUP BY status')
  return Object.fromEntries(rows.map((r) => [r.status, r.n]))
}
