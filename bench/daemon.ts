// The daemon's cycle at a thousand running jobs, beside the seed's algorithm
// (sequential poll, one write per job) on the same data in the same run; then four
// daemons draining ten thousand queued jobs. Real Postgres, the simulator with 50 ms
// of latency on every call. It prints figures and ratios; it asserts nothing.
import { join } from 'node:path'
import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { startPgServer } from '../test/helpers/pg-server.js'
import { openPostgres } from '../src/db/postgres.js'
import { migrate } from '../src/db/migrate.js'
import { countingDb } from '../src/db/counting.js'
import { startSimulator } from '../src/cluster/simulator.js'
import { createClusterClient } from '../src/cluster/client.js'
import { systemClock } from '../src/clock.js'
import { createContext } from '../src/context.js'
import { createTestIO } from '../src/io/streams.js'
import { memoryLog } from '../src/log.js'
import { runCycle, type CycleEnv } from '../src/daemon/cycle.js'
import { mapLimit } from '../src/concurrency.js'
import { testConfig } from '../test/helpers/context.js'
import { tempDir } from '../test/helpers/cli.js'
import type { Db } from '../src/db/types.js'

const RUNNING = Number(process.env.JOBS ?? 1000)
const DRAIN = Number(process.env.DRAIN ?? 10_000)
const LATENCY_MS = 50
const USER = '00000000-0000-4000-8000-0000000be4c4'

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

async function main() {
  const server = await startPgServer()
  if (!server) throw new Error('the benchmark needs initdb and pg_ctl (Debian: apt-get install -y postgresql)')
  const dir = tempDir('lora-bench-daemon-')
  const sim = await startSimulator({ latencyMs: LATENCY_MS, seed: 1 })
  try {
    const db = await openPostgres({ url: server.url, max: 8 })
    await migrate(db)
    const config = testConfig(
      {
        clusters: [{ name: 'sim', url: sim.url, connectTimeoutMs: 5_000, requestTimeoutMs: 30_000 }],
        storage: { kind: 'folder', dir: join(dir.path, 'storage'), quotaBytes: 1e12 },
        budget: { monthlyUsd: 1e9, warnRatio: 0.75 },
      },
      join(dir.path, '.lora'),
    )
    const ctx = createContext({ io: createTestIO().io, db, config, clock: systemClock, cwd: dir.path })
    const storage = await ctx.storage()
    await storage.uploadBytes('lora-datasets', `${USER}/train.jsonl`, new TextEncoder().encode('{"prompt":"a","completion":"b"}\n'))
    const [dataset] = await db.query<{ id: string }>(
      `INSERT INTO datasets (user_id, name, format, status, storage_path, total_tokens) VALUES ($1, 'bench', 'completion', 'ready', $2, 100000) RETURNING id`,
      [USER, `${USER}/train.jsonl`],
    )
    const gpu = { gpu_type: 'A10G', num_gpus: 1, cost_per_gpu_hour: 1.1 }
    const hyper = { num_epochs: 3, learning_rate: 2e-4, lora_rank: 16, lora_alpha: 32, lora_dropout: 0.05, batch_size: 8 }

    // 1,000 jobs running on the cluster, known to the database.
    const client = createClusterClient({ name: 'sim', url: sim.url, connectTimeoutMs: 5000, requestTimeoutMs: 30000 }, { clock: systemClock, connections: 64 })
    const ids = Array.from({ length: RUNNING }, () => randomUUID())
    const externals = await mapLimit(ids, 64, (id) => client.submit({ job_id: id, dataset_url: 'http://127.0.0.1:1/d', hyperparameters: hyper, gpu_config: gpu }))
    await db.query(
      `INSERT INTO training_jobs (id, user_id, dataset_id, preset_id, hyperparameters, gpu_config, status, current_stage, external_job_id, cluster_name, started_at)
       SELECT x.id, $1, $2, 'balanced', $3, $4, 'running', 'training', x.external_job_id, 'sim', now()
         FROM jsonb_to_recordset($5::jsonb) AS x(id uuid, external_job_id text)`,
      [USER, dataset!.id, hyper, gpu, ids.map((id, i) => ({ id, external_job_id: externals[i]!.external_job_id }))],
    )

    const counted = countingDb(db)
    const clusters = await ctx.clusters()
    const env: CycleEnv = { db: counted, clusters, storage: () => ctx.storage(), clock: systemClock, config, log: memoryLog(), daemonId: 'bench-daemon' }
    const ours: { ms: number; statements: number }[] = []
    for (let i = 0; i < 5; i++) {
      counted.reset()
      const t = performance.now()
      const report = await runCycle(env, { batch: 20, concurrency: 64, pollLimit: 5000 })
      ours.push({ ms: performance.now() - t, statements: counted.statements })
      if (report.polled !== RUNNING) throw new Error(`polled ${report.polled} of ${RUNNING}`)
    }

    // The seed's algorithm on the same jobs: one job at a time, a status call, then its writes.
    const reference: { ms: number; statements: number }[] = []
    for (let i = 0; i < 2; i++) {
      const t = performance.now()
      const statements = await seedCycle(db, client)
      reference.push({ ms: performance.now() - t, statements })
    }

    // The same cycle with a tenth of the jobs: the statement count must not move.
    await db.query(`UPDATE training_jobs SET status = 'cancelled' WHERE id = ANY($1::uuid[])`, [ids.slice(RUNNING / 10)])
    counted.reset()
    await runCycle(env, { batch: 20, concurrency: 64, pollLimit: 5000 })
    const smallStatements = counted.statements

    const ourMs = median(ours.map((o) => o.ms))
    const refMs = median(reference.map((r) => r.ms))
    console.log(`\nA cycle over ${RUNNING} running jobs (simulator latency ${LATENCY_MS} ms, real Postgres)`)
    console.log(`  lora daemon      median ${ourMs.toFixed(0).padStart(7)} ms   ${median(ours.map((o) => o.statements))} statements per cycle   (runs: ${ours.map((o) => o.ms.toFixed(0)).join(', ')} ms)`)
    console.log(`  seed algorithm   median ${refMs.toFixed(0).padStart(7)} ms   ${median(reference.map((r) => r.statements))} statements per cycle`)
    console.log(`  ratio            ${(refMs / ourMs).toFixed(1)}x faster   (target: >= 20x, cycle < 2000 ms)`)
    console.log(`  statements per cycle at ${RUNNING / 10} running jobs: ${smallStatements} (at ${RUNNING}: ${median(ours.map((o) => o.statements))})`)

    // Four daemons draining ten thousand queued jobs.
    await db.query(`UPDATE training_jobs SET status = 'cancelled' WHERE status = 'running'`)
    await db.query(
      `INSERT INTO training_jobs (user_id, dataset_id, preset_id, hyperparameters, gpu_config, status, created_at)
       SELECT $1, $2, 'fast', $3, $4, 'queued', now() + make_interval(secs => g / 1000.0) FROM generate_series(1, $5) g`,
      [USER, dataset!.id, hyper, gpu, DRAIN],
    )
    const daemons: CycleEnv[] = []
    const contexts = []
    for (let d = 0; d < 4; d++) {
      const own = await openPostgres({ url: server.url, max: 4 })
      const dctx = createContext({ io: createTestIO().io, db: own, config, clock: systemClock, cwd: dir.path })
      contexts.push({ dctx, own })
      daemons.push({ db: own, clusters: await dctx.clusters(), storage: () => dctx.storage(), clock: systemClock, config, log: memoryLog(), daemonId: `drain-${d}` })
    }
    const t = performance.now()
    let cycles = 0
    for (;;) {
      await Promise.all(daemons.map((e) => runCycle(e, { batch: 250, concurrency: 64, pollLimit: 1 })))
      cycles += 1
      const [{ n }] = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM training_jobs WHERE status IN ('queued', 'initializing')`)) as [{ n: number }]
      if (n === 0 || cycles > 500) break
    }
    const drainMs = performance.now() - t
    const [{ submitted }] = (await db.query<{ submitted: number }>(`SELECT count(*)::int AS submitted FROM training_jobs WHERE status = 'running'`)) as [{ submitted: number }]
    console.log(`\nFour daemons draining ${DRAIN} queued jobs: ${(drainMs / 1000).toFixed(1)} s, ${cycles} rounds of cycles, ${submitted} submitted (${(submitted / (drainMs / 1000)).toFixed(0)} jobs/s)`)

    for (const { dctx, own } of contexts) {
      await dctx.close()
      await own.close()
    }
    await clusters.close()
    await client.close()
    await ctx.close()
    await db.close()
  } finally {
    await sim.close()
    server.destroy()
    dir.remove()
  }
}

/** The seed's process-training-jobs, polling half: one job at a time, one write each. */
async function seedCycle(db: Db, client: ReturnType<typeof createClusterClient>): Promise<number> {
  let statements = 1
  const jobs = await db.query<{ id: string; external_job_id: string; started_at: Date; gpu_config: { cost_per_gpu_hour: number; num_gpus: number } }>(
    `SELECT * FROM training_jobs WHERE status IN ('running', 'initializing') AND external_job_id IS NOT NULL`,
  )
  for (const job of jobs) {
    const status = await client.status(job.external_job_id)
    if (status.metrics) {
      statements += 1
      await db.query(
        `INSERT INTO metrics_points (job_id, epoch, step, training_loss, validation_loss, learning_rate, throughput, gpu_utilization)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING`,
        [job.id, status.current_epoch, status.current_step, status.metrics.training_loss, status.metrics.validation_loss ?? null, status.metrics.learning_rate, status.metrics.throughput, status.metrics.gpu_utilization],
      )
    }
    const hours = (Date.now() - job.started_at.getTime()) / 3_600_000
    statements += 1
    await db.query(
      `UPDATE training_jobs SET progress = $2, current_epoch = $3, current_step = $4, current_stage = $5, current_metrics = $6, current_cost = $7 WHERE id = $1`,
      [job.id, status.progress, status.current_epoch, status.current_step, status.stage, status.metrics ?? null, job.gpu_config.cost_per_gpu_hour * job.gpu_config.num_gpus * hours],
    )
  }
  return statements
}

await main()
