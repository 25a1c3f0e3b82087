import type { Queryable } from '../types.js'

export type BreakerState = 'closed' | 'open' | 'half_open'

export interface BreakerRow {
  cluster: string
  state: BreakerState
  generation: number
  failure_times: Date[]
  opened_at: Date | null
  open_until: Date | null
  probe_owner: string | null
  probe_expires_at: Date | null
  last_error: string | null
  updated_at: Date
}

/** Reads a breaker's row under a row lock, creating it closed on first use. */
export async function lockBreaker(tx: Queryable, cluster: string): Promise<BreakerRow> {
  await tx.query('INSERT INTO lora_ops.circuit_breakers (cluster) VALUES ($1) ON CONFLICT (cluster) DO NOTHING', [cluster])
  const [row] = await tx.query<BreakerRow>('SELECT * FROM lora_ops.circuit_breakers WHERE cluster = $1 FOR UPDATE', [cluster])
  return row!
}

export async function readBreakers(q: Queryable, clusters: string[]): Promise<BreakerRow[]> {
  return q.query<BreakerRow>('SELECT * FROM lora_ops.circuit_breakers WHERE cluster = ANY($1::text[]) ORDER BY cluster', [clusters])
}

export interface BreakerUpdate {
  state: BreakerState
  failure_times: Date[]
  opened_at: Date | null
  open_until: Date | null
  probe_owner: string | null
  probe_expires_at: Date | null
  last_error: string | null
  /** True when the state changes: the generation moves on. */
  transition: boolean
}

export async function writeBreaker(tx: Queryable, cluster: string, update: BreakerUpdate, now: Date): Promise<void> {
  await tx.query(
    `UPDATE lora_ops.circuit_breakers
        SET state = $2, failure_times = $3::timestamptz[], opened_at = $4, open_until = $5,
            probe_owner = $6, probe_expires_at = $7, last_error = $8,
            generation = generation + CASE WHEN $9::boolean THEN 1 ELSE 0 END, updated_at = $10
      WHERE cluster = $1`,
    [
      cluster,
      update.state,
      update.failure_times,
      update.opened_at,
      update.open_until,
      update.probe_owner,
      update.probe_expires_at,
      update.last_error,
      update.transition,
      now,
    ],
  )
}

/**
 * The cheap path of a success: one statement that writes only when there is
 * something to clear, so a healthy cluster costs no write.
 */
export async function clearBreakerFailures(q: Queryable, cluster: string, now: Date): Promise<number> {
  const rows = await q.query(
    `UPDATE lora_ops.circuit_breakers SET failure_times = '{}', last_error = NULL, updated_at = $2
      WHERE cluster = $1 AND state = 'closed' AND cardinality(failure_times) > 0 RETURNING cluster`,
    [cluster, now],
  )
  return rows.length
}
