import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import type { Db, Queryable } from '../src/db/types.js'
import { insertQueuedJob } from '../src/db/queries/submit.js'
import { applyPollResults, type PollUpdate } from '../src/db/queries/poll.js'

/**
 * What the triggers of the daily rollups (migration 0007) add to the platform's writes:
 * the daemon's own statements (a job submitted, a polling cycle, a cycle in which jobs
 * complete with their cost records and artifacts) timed with those triggers enabled and
 * disabled, alternately, each run in a transaction that is rolled back so the data and
 * the rollups are left as they were. Commits are not timed: the ratio is of the
 * statements alone, the share a commit would dilute.
 */
export const DAILY_TRIGGERS: [table: string, trigger: string][] = [
  ['training_jobs', 'training_jobs_daily_insert'],
  ['training_jobs', 'training_jobs_daily_update'],
  ['training_jobs', 'training_jobs_daily_delete'],
  ['cost_records', 'cost_records_daily_insert'],
  ['cost_records', 'cost_records_daily_update'],
  ['cost_records', 'cost_records_daily_delete'],
  ['model_artifacts', 'model_artifacts_daily_insert'],
  ['model_artifacts', 'model_artifacts_daily_update'],
  ['model_artifacts', 'model_artifacts_daily_delete'],
]

export interface WriteCost {
  name: string
  /** Statements per run. */
  statements: number
  /** Median ms per statement, triggers enabled and disabled. */
  withTriggers: number
  without: number
}

class Rollback extends Error {}

const JOBS = 400
const BATCH = 20

function update(id: string, status: PollUpdate['status'], now: Date): PollUpdate {
  return {
    id, status, progress: status === 'running' ? 50 : 100, current_epoch: 1, current_step: 10, total_steps: 20, total_epochs: 2,
    current_stage: status === 'running' ? 'training' : 'done', current_metrics: { loss: 0.5 }, current_cost: 1.25,
    cost_by_month: { [now.toISOString().slice(0, 7)]: 1.25 }, cost_source: 'cluster', billed_gpu_seconds: 3600,
    error_message: null, error_type: null, counts_toward_limit: null, artifact_id: null, message: status === 'running' ? null : 'done',
  }
}

/** The three workloads, each returning its statement count and elapsed ms (statements only). */
async function runWorkloads(tx: Queryable, now: Date, dataset: string): Promise<Record<string, { statements: number; ms: number }>> {
  const user = randomUUID()
  const daemon = `bench-writes-${randomUUID().slice(0, 8)}`
  const out: Record<string, { statements: number; ms: number }> = {}
  const timed = async (name: string, statements: number, fn: () => Promise<void>) => {
    const t0 = performance.now()
    await fn()
    out[name] = { statements, ms: performance.now() - t0 }
  }
  await timed('job submitted (insert queued job)', JOBS, async () => {
    for (let i = 0; i < JOBS; i++) {
      await insertQueuedJob(tx, {
        user_id: user, dataset_id: dataset, preset_id: 'balanced', hyperparameters: {}, gpu_config: { gpu_type: 'A100', num_gpus: 1 },
        total_epochs: 2, estimated_total_cost: 2, estimated_duration_hours: 1,
      }, now)
    }
  })
  // Untimed: the jobs start running under this daemon.
  const ids = (await tx.query<{ id: string }>(
    `UPDATE training_jobs SET status = 'running', started_at = $2, claimed_by = $3, lease_expires_at = $2::timestamptz + interval '1 hour'
      WHERE user_id = $1 RETURNING id`,
    [user, new Date(now.getTime() - 3_600_000), daemon],
  )).map((r) => r.id)
  const batches = Array.from({ length: Math.ceil(ids.length / BATCH) }, (_, i) => ids.slice(i * BATCH, (i + 1) * BATCH))
  await timed(`polling cycle, ${BATCH} jobs still running`, batches.length, async () => {
    for (const batch of batches) await applyPollResults(tx, daemon, now, batch.map((id) => update(id, 'running', now)), [], [])
  })
  await timed(`polling cycle, ${BATCH} jobs completing (cost record, artifact)`, batches.length, async () => {
    for (const batch of batches) {
      await applyPollResults(tx, daemon, now, batch.map((id) => update(id, 'completed', now)), [], batch.map((id) => ({
        id: randomUUID(), job_id: id, name: 'adapter', status: 'stored' as const, storage_path: `${user}/${id}/adapter.safetensors`,
        artifacts: { lora_adapter_size: 50_000_000 }, validation_image_urls: [], source_urls: null, upload_error: null,
      })))
    }
  })
  return out
}

async function once(db: Db, now: Date, dataset: string, triggers: boolean): Promise<Record<string, { statements: number; ms: number }>> {
  let result: Record<string, { statements: number; ms: number }> = {}
  await db
    .transaction(async (tx) => {
      if (!triggers) for (const [table, trigger] of DAILY_TRIGGERS) await tx.query(`ALTER TABLE ${table} DISABLE TRIGGER ${trigger}`)
      result = await runWorkloads(tx, now, dataset)
      throw new Rollback()
    })
    .catch((error: unknown) => {
      if (!(error instanceof Rollback)) throw error
    })
  return result
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

export async function measureRollupWriteCost(db: Db, now: Date, rounds = 9): Promise<WriteCost[]> {
  const [ds] = await db.query<{ id: string }>(`SELECT id FROM datasets WHERE status = 'ready' AND deleted_at IS NULL LIMIT 1`)
  if (!ds) throw new Error('no ready dataset to submit jobs on')
  await once(db, now, ds.id, true) // warm-up
  const samples: Record<string, { statements: number; on: number[]; off: number[] }> = {}
  for (let i = 0; i < rounds; i++) {
    for (const triggers of i % 2 === 0 ? [true, false] : [false, true]) {
      for (const [name, r] of Object.entries(await once(db, now, ds.id, triggers))) {
        const s = (samples[name] ??= { statements: r.statements, on: [], off: [] })
        ;(triggers ? s.on : s.off).push(r.ms / r.statements)
      }
    }
  }
  return Object.entries(samples).map(([name, s]) => ({ name, statements: s.statements, withTriggers: median(s.on), without: median(s.off) }))
}
