import type { Queryable } from '../types.js'

/** A run that started this long ago and never finished (its daemon died) may be taken over. */
const STALE_RUN = '30 minutes'

/**
 * Claims a periodic task's slot: of any number of daemons, exactly one gets it, and a
 * slot is run once however many were missed (only the latest slot counts).
 */
export async function claimTaskSlot(q: Queryable, task: string, slot: Date, now: Date, runBy: string): Promise<boolean> {
  await q.query('INSERT INTO lora_ops.task_runs (task) VALUES ($1) ON CONFLICT (task) DO NOTHING', [task])
  const rows = await q.query(
    `UPDATE lora_ops.task_runs
        SET last_slot = $2, last_started_at = $3, last_status = 'running', run_by = $4, last_error = NULL
      WHERE task = $1
        AND (last_slot IS NULL OR last_slot < $2
             OR (last_slot = $2 AND last_status = 'running' AND last_started_at < $3::timestamptz - interval '${STALE_RUN}'))
      RETURNING task`,
    [task, slot, now, runBy],
  )
  return rows.length > 0
}

export async function finishTaskRun(q: Queryable, task: string, now: Date, error: string | null): Promise<void> {
  await q.query(
    `UPDATE lora_ops.task_runs SET last_finished_at = $2, last_status = $3, last_error = $4 WHERE task = $1`,
    [task, now, error ? 'failed' : 'ok', error],
  )
}
