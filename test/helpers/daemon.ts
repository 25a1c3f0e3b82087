import { join } from 'node:path'
import type { Backend, TestDb } from './db.js'
import { tempDir } from './cli.js'
import { testConfig, testContext } from './context.js'
import { InstantClock } from './clock.js'
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/cluster/simulator.js'
import type { CycleEnv } from '../../src/daemon/cycle.js'
import { memoryLog } from '../../src/log.js'
import { submitJob } from '../../src/jobs/submit.js'
import { PRESETS } from '../../src/jobs/presets.js'
import type { ResolvedConfig } from '../../src/config/schema.js'
import type { Context } from '../../src/context.js'
import type { Db } from '../../src/db/types.js'

export const USER = '00000000-0000-4000-8000-00000000a11c'

export interface DaemonHarness {
  db: TestDb
  sim: Simulator
  clock: InstantClock
  config: ResolvedConfig
  ctx: Context
  env: (daemonId?: string, db?: Db) => Promise<CycleEnv>
  log: ReturnType<typeof memoryLog>
  datasetId: string
  submit(count?: number, preset?: keyof typeof PRESETS): Promise<string[]>
  close(): Promise<void>
}

/**
 * A database, the simulator on loopback, folder storage and a dataset in it, all on
 * one fake clock whose sleeps return at once: the daemon's cycles run in milliseconds.
 */
export async function daemonHarness(backend: Backend, options: { simulator?: SimulatorOptions; config?: Partial<ResolvedConfig> } = {}): Promise<DaemonHarness> {
  const db = await backend.open()
  const dir = tempDir('lora-daemon-')
  const clock = new InstantClock('2026-03-10T12:00:00Z')
  const sim = await startSimulator({ clock, seed: 7, ...options.simulator })
  const config = testConfig(
    {
      clusters: [{ name: 'sim', url: sim.url, connectTimeoutMs: 2_000, requestTimeoutMs: 2_000 }],
      storage: { kind: 'folder', dir: join(dir.path, 'storage'), quotaBytes: 10 * 1024 ** 3 },
      ...options.config,
    },
    join(dir.path, '.lora'),
  )
  const { ctx } = testContext({ db, config, clock, cwd: dir.path })
  const storage = await ctx.storage()
  await storage.uploadBytes('lora-datasets', `${USER}/ds1/train.jsonl`, new TextEncoder().encode('{"prompt":"a","completion":"b"}\n'), 'application/jsonl')
  const [dataset] = await db.query<{ id: string }>(
    `INSERT INTO datasets (user_id, name, format, status, storage_bucket, storage_path, file_size, total_training_pairs, total_tokens, validated_at)
     VALUES ($1, 'support-chats', 'completion', 'ready', 'lora-datasets', $2, 32, 2000, 200000, $3) RETURNING id`,
    [USER, `${USER}/ds1/train.jsonl`, clock.now()],
  )
  await db.query(`INSERT INTO user_training_limits (user_id, monthly_limit, month_reset_date) VALUES ($1, 100000, '2026-03-01')`, [USER])
  const log = memoryLog()
  const clusters = await ctx.clusters()
  const extra: { close(): Promise<void> }[] = []
  return {
    db,
    sim,
    clock,
    config,
    ctx,
    log,
    datasetId: dataset!.id,
    async env(daemonId = 'daemon-1', other?: Db) {
      if (!other || other === db) return { db, clusters, storage: () => ctx.storage(), clock, config, log, daemonId }
      // Another daemon: its own connections, clients and breakers.
      const second = testContext({ db: other, config, clock, cwd: dir.path })
      extra.push(second.ctx)
      return { db: other, clusters: await second.ctx.clusters(), storage: () => second.ctx.storage(), clock, config, log, daemonId }
    },
    async submit(count = 1, preset = 'fast') {
      const ids: string[] = []
      for (let i = 0; i < count; i++) {
        const p = PRESETS[preset]
        const { job } = await submitJob(db, config, { userId: USER, datasetId: dataset!.id, presetId: p.id, hyperparameters: p.hyperparameters, gpu: p.gpu }, clock.now())
        ids.push(job.id)
      }
      return ids
    },
    async close() {
      for (const c of extra) await c.close()
      await ctx.close()
      await sim.close()
      await db.close()
      dir.remove()
    },
  }
}

/** Runs cycles every `stepMs` of fake time until no job is active; throws past maxCycles. */
export async function drainJobs(h: DaemonHarness, env: import('../../src/daemon/cycle.js').CycleEnv, stepMs: number, maxCycles = 60): Promise<void> {
  const { runCycle } = await import('../../src/daemon/cycle.js')
  for (let i = 0; i < maxCycles; i++) {
    await runCycle(env, { batch: 50, concurrency: 8, pollLimit: 1000 })
    const [{ n }] = (await h.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM training_jobs WHERE status IN ('queued','initializing','running')`)) as [{ n: number }]
    if (n === 0) return
    h.clock.advance(stepMs)
  }
  throw new Error('jobs still active after the cycle budget')
}

/** Leases are on the database's clock, not the fake one: the lease of every held job runs out. */
export async function lapseLeases(h: Pick<DaemonHarness, 'db'>): Promise<void> {
  await h.db.query(`UPDATE training_jobs SET lease_expires_at = now() - interval '1 second' WHERE lease_expires_at IS NOT NULL`)
}
