import { PassThrough } from 'node:stream'
import type { Db } from '../../src/db/types.js'
import { JOB_CHANNEL } from '../../src/db/queries/jobs.js'
import { createPrompter, type Prompter } from '../../src/io/prompter.js'
import { FakeClock, type Clock } from '../../src/clock.js'
import type { DaemonHarness } from '../helpers/daemon.js'
import { backends } from '../helpers/db.js'

/**
 * Where the tests of the terminal (prompts, the live view) run: what they check is
 * not the database's, so once is enough, on real Postgres when there is one.
 */
export const PRIMARY = backends.find((b) => b.name === 'postgres' && b.available) ?? backends[0]!

export const USER = '00000000-0000-4000-8000-00000000a11c'
export const OTHER_USER = '00000000-0000-4000-8000-0000000000b2'
export const T0 = new Date('2026-03-10T12:00:00Z')
export const at = (minutes: number) => new Date(T0.getTime() + minutes * 60_000)

export async function insertDataset(
  db: Db,
  fields: { name?: string; status?: string; userId?: string; tokens?: number; pairs?: number; createdAt?: Date } = {},
): Promise<string> {
  const [row] = await db.query<{ id: string }>(
    `INSERT INTO datasets (user_id, name, format, status, storage_bucket, storage_path, file_size, total_training_pairs, total_tokens, created_at, updated_at)
     VALUES ($1, $2, 'completion', $3, 'lora-datasets', $4, 100, $5, $6, $7, $7) RETURNING id`,
    [fields.userId ?? USER, fields.name ?? 'support-chats', fields.status ?? 'ready', `${fields.userId ?? USER}/${fields.name ?? 'support-chats'}.jsonl`, fields.pairs ?? 1200, fields.tokens ?? 200_000, fields.createdAt ?? T0],
  )
  return row!.id
}

export async function setLimit(db: Db, used: number, limit: number, userId = USER): Promise<void> {
  await db.query(
    `INSERT INTO user_training_limits (user_id, loras_created_this_month, monthly_limit, month_reset_date) VALUES ($1, $2, $3, '2026-03-01')
     ON CONFLICT (user_id) DO UPDATE SET loras_created_this_month = $2, monthly_limit = $3`,
    [userId, used, limit],
  )
}

export interface JobFields {
  id?: string
  datasetId: string
  userId?: string
  status?: string
  stage?: string
  progress?: number
  epoch?: number
  totalEpochs?: number
  step?: number
  totalSteps?: number | null
  metrics?: Record<string, number> | null
  currentCost?: number
  finalCost?: number | null
  estimate?: number
  externalId?: string | null
  cluster?: string | null
  waitReason?: string | null
  error?: string | null
  createdAt?: Date
  startedAt?: Date | null
  completedAt?: Date | null
  updatedAt?: Date
}

/** A job in any state, with every value given: the exact outputs of list, show and watch depend on them. */
export async function insertJob(db: Db, f: JobFields): Promise<string> {
  const [row] = await db.query<{ id: string }>(
    `INSERT INTO training_jobs (id, user_id, dataset_id, preset_id, hyperparameters, gpu_config, status, current_stage, progress,
                                current_epoch, total_epochs, current_step, total_steps, current_metrics, external_job_id, cluster_name,
                                estimated_total_cost, estimated_duration_hours, current_cost, final_cost, wait_reason, error_message,
                                created_at, started_at, completed_at, updated_at)
     VALUES (coalesce($1::uuid, gen_random_uuid()), $2, $3, 'fast', $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, 0.174, $17, $18, $19, $20, $21, $22, $23, $24)
     RETURNING id`,
    [
      f.id ?? null, f.userId ?? USER, f.datasetId,
      { num_epochs: f.totalEpochs ?? 1, learning_rate: 0.0003, lora_rank: 8, lora_alpha: 16, lora_dropout: 0.05, batch_size: 8, base_model: 'mistralai/Mistral-7B-v0.1' },
      { gpu_type: 'A10G', num_gpus: 1, cost_per_gpu_hour: 1.1 },
      f.status ?? 'queued', f.stage ?? f.status ?? 'queued', f.progress ?? 0, f.epoch ?? 0, f.totalEpochs ?? 1, f.step ?? 0,
      f.totalSteps === undefined ? 300 : f.totalSteps, f.metrics ?? null, f.externalId ?? null, f.cluster ?? null, f.estimate ?? 0.19,
      f.currentCost ?? 0, f.finalCost ?? null, f.waitReason ?? null, f.error ?? null,
      f.createdAt ?? T0, f.startedAt === undefined ? null : f.startedAt, f.completedAt ?? null, f.updatedAt ?? f.createdAt ?? T0,
    ],
  )
  return row!.id
}

export async function insertPoints(db: Db, jobId: string, points: { step: number; epoch?: number; loss: number; val?: number | null; at?: Date }[]): Promise<void> {
  for (const p of points) {
    await db.query(
      `INSERT INTO metrics_points (job_id, "timestamp", epoch, step, training_loss, validation_loss, learning_rate, throughput, gpu_utilization)
       VALUES ($1, $2, $3, $4, $5, $6, 0.0003, 2450, 95.1)`,
      [jobId, p.at ?? T0, p.epoch ?? 1, p.step, p.loss, p.val ?? null],
    )
  }
}

export async function count(db: Db, sql: string, params: unknown[] = []): Promise<number> {
  const [row] = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM (${sql}) x`, params)
  return row!.n
}

/** Waits (real time, bounded) until the condition holds. */
export async function until(condition: () => boolean | Promise<boolean>, what = 'condition', timeoutMs = 10_000): Promise<void> {
  const start = Date.now()
  while (!(await condition())) {
    if (Date.now() - start > timeoutMs) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 5))
  }
}

export const KEY = { down: '\x1b[B', up: '\x1b[A', enter: '\r', ctrlC: '\x03' }

/**
 * A terminal for the prompts: each step waits until the screen shows `expect`, then
 * types `keys`, as a person would. The whole screen is kept for assertions.
 */
export function scriptedTerminal(steps: { expect: RegExp | string; keys: string }[]): { prompter: Prompter; screen(): string; answered(): number } {
  const input = new PassThrough()
  const output = new PassThrough()
  let screen = ''
  let pending = ''
  let step = 0
  output.on('data', (chunk: Buffer) => {
    const text = chunk.toString()
    screen += text
    pending += text
    const next = steps[step]
    if (!next) return
    const seen = typeof next.expect === 'string' ? pending.includes(next.expect) : next.expect.test(pending)
    if (seen) {
      step += 1
      pending = ''
      setImmediate(() => input.write(next.keys))
    }
  })
  return { prompter: createPrompter({ input, output }), screen: () => screen, answered: () => step }
}

export interface WatchSession {
  /** The harness's database, its notifications observed on the way to the watch. */
  db: Db
  /** The daemon's time, but sleeps that only a notification ends: the watch moves with the daemon's writes. */
  clock: Clock
  /**
   * Resolves once the watch has been woken after everything written so far, has read
   * the job and is asleep again, or has ended; fails when it does not within the bound.
   */
  caughtUp(jobId: string, ended: () => boolean): Promise<void>
}

/**
 * What a watch over the daemon harness runs on. Catching up is an event, not a
 * pause: a probe notification sent after the daemon's writes arrives after theirs,
 * wakes the watch (or makes its next sleep return at once), and the watch sleeps
 * again only after a full read that began once the probe had arrived.
 */
export function watchSession(h: DaemonHarness): WatchSession {
  const sleeper = new FakeClock(h.clock.now())
  let sent = 0
  let delivered = 0
  const db: Db = {
    ...h.db,
    listen: (channel, onMessage) =>
      h.db.listen(channel, (payload) => {
        onMessage(payload)
        const probe = /:probe-(\d+)$/.exec(payload)
        if (probe) delivered = Number(probe[1])
      }),
  }
  return {
    db,
    clock: { now: () => h.clock.now(), sleep: (ms, signal) => sleeper.sleep(ms, signal) },
    async caughtUp(jobId, ended) {
      const probe = (sent += 1)
      await h.db.notify(JOB_CHANNEL, `${jobId}:probe-${probe}`)
      await until(() => ended() || (delivered >= probe && sleeper.pending === 1), `the watch to read job ${jobId} after the daemon's writes`)
    },
  }
}
