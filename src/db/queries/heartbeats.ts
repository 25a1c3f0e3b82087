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

export async function markDaemonStopped(q: Queryable, daemonId: string): Promise<void> {
  await q.query(`UPDATE lora_ops.daemon_heartbeats SET status = 'stopped' WHERE daemon_id = $1`, [daemonId])
}

export async function countJobsByStatus(q: Queryable): Promise<Record<string, number>> {
  const rows = await q.query<{ status: string; n: number }>('SELECT status, count(*)::int AS n FROM training_jobs GROUP BY status')
  return Object.fromEntries(rows.map((r) => [r.status, r.n]))
}
