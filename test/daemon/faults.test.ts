import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { tempDir } from '../helpers/cli.js'
import { startLora, stopLoraProcesses } from '../helpers/lora-process.js'
import { pgUrl } from '../helpers/db.js'
import { startPgServer, type PgServer } from '../helpers/pg-server.js'
import { openPostgres } from '../../src/db/postgres.js'
import { migrate } from '../../src/db/migrate.js'
import { startSimulator, type Simulator } from '../../src/cluster/simulator.js'
import { mulberry32 } from '../../src/cluster/simulator-model.js'
import { submitJob } from '../../src/jobs/submit.js'
import { PRESETS } from '../../src/jobs/presets.js'
import { testConfig } from '../helpers/context.js'
import { systemClock } from '../../src/clock.js'
import type { Db } from '../../src/db/types.js'

const USER = '00000000-0000-4000-8000-0000000000f1'

/** A database with the schema, a ready dataset in folder storage, and `count` queued jobs. */
async function seed_(url: string, storageDir: string, count: number): Promise<{ db: Db; ids: string[] }> {
  const db = await openPostgres({ url, max: 4 })
  await migrate(db)
  mkdirSync(join(storageDir, 'lora-datasets', USER), { recursive: true })
  writeFileSync(join(storageDir, 'lora-datasets', USER, 'train.jsonl'), '{"prompt":"a","completion":"b"}\n')
  const [dataset] = await db.query<{ id: string }>(
    `INSERT INTO datasets (user_id, name, format, status, storage_path, file_size, total_tokens) VALUES ($1, 'd', 'completion', 'ready', $2, 32, 1000) RETURNING id`,
    [USER, `${USER}/train.jsonl`],
  )
  await db.query(`INSERT INTO user_training_limits (user_id, monthly_limit) VALUES ($1, 100000)`, [USER])
  const config = testConfig()
  const ids: string[] = []
  for (let i = 0; i < count; i++) {
    const p = PRESETS.fast
    const { job } = await submitJob(db, config, { userId: USER, datasetId: dataset!.id, presetId: 'fast', hyperparameters: p.hyperparameters, gpu: p.gpu }, systemClock.now())
    ids.push(job.id)
  }
  return { db, ids }
}

async function freshDatabase(serverUrl: string): Promise<string> {
  const name = `faults_${randomBytes(4).toString('hex')}`
  const admin = await openPostgres({ url: serverUrl, max: 1 })
  await admin.query(`CREATE DATABASE ${name}`)
  await admin.close()
  return serverUrl.replace(/\/postgres$/, `/${name}`)
}

function daemonEnv(url: string, storageDir: string, simUrl: string): Record<string, string> {
  return { DATABASE_URL: url, LORA_STORAGE_DIR: storageDir, GPU_CLUSTER_API_URL: simUrl, LORA_ACTOR: 'test' }
}

function campaignSeed(name: string): number {
  const seed = process.env.LORA_TEST_SEED ? Number(process.env.LORA_TEST_SEED) : Math.floor(Math.random() * 2 ** 31)
  process.stderr.write(`${name}: seed ${seed} (LORA_TEST_SEED=${seed} replays it)\n`)
  return seed
}

const count = (text: string, message: string) => text.split(`"msg":"${message}`).length - 1
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms))

/**
 * Rounds of the two campaigns in the suite: kills of daemons (at least), restarts of
 * the database. `npm run test:faults` runs the long campaign: LORA_FAULT_ROUNDS=20,
 * the file over and over (README, Tests).
 */
const ROUNDS = process.env.LORA_FAULT_ROUNDS ? Number(process.env.LORA_FAULT_ROUNDS) : null
const RESTART_ROUNDS = ROUNDS ?? 4
const KILL_ROUNDS = ROUNDS ?? 10
/** Kills that must land in the middle of a cycle; the campaign goes on until they have (bounded). */
const MID_CYCLE_KILLS = 3
const MAX_KILL_ROUNDS = 4 * KILL_ROUNDS

describe.skipIf(!pgUrl)('the daemon under faults (child processes, real Postgres)', () => {
  let sim: Simulator
  let dir: { path: string; remove(): void }
  // A server of their own for the tests that stop and restart it.
  let server: PgServer
  const start = (args: string[], env: Record<string, string>) => startLora(args, { cwd: dir.path, env })
  beforeAll(async () => {
    server = (await startPgServer())!
    // An hour of simulated training per real second: jobs finish within the test.
    sim = await startSimulator({ speed: 3600, seed: 3 })
    dir = tempDir('lora-faults-')
    // Short leases, so that jobs claimed by killed daemons come back quickly; more
    // attempts than kills, so that no job can use them all up: the kill campaign
    // guarantees that every job completes.
    writeFileSync(join(dir.path, '.lorarc'), `profiles:\n  default:\n    training: { lease: 2s, maxAttempts: ${MAX_KILL_ROUNDS + 2} }\n`)
  })
  // Each test stops what it started; this is for a test that failed half-way. (Two of
  // the tests run side by side: a per-test cleanup would kill the other's daemons.)
  afterAll(async () => {
    await stopLoraProcesses()
    await sim?.close()
    server?.destroy()
    dir?.remove()
  })

  it('serves the first statement within a second or two of a restarted database, however many connects failed meanwhile, with no stale error', async () => {
    // One connection, so that the statement in flight at the shutdown and those after
    // the restart share it.
    const db = await openPostgres({ url: server.url, max: 1 })
    try {
      const [me] = await db.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
      const inFlight = db.query('SELECT pg_sleep(30)').then(() => null, (error: NodeJS.ErrnoException) => error)
      const admin = await openPostgres({ url: server.url, max: 1 })
      for (let i = 0; i < 200 && (await admin.query(`SELECT 1 FROM pg_stat_activity WHERE pid = $1 AND state = 'active'`, [me!.pid])).length === 0; i++) await sleep(10)
      await admin.close()
      // A fast shutdown sends the busy backend a FATAL error before closing its socket.
      server.stop('fast')
      expect((await inFlight)?.code).toMatch(/^(57P01|CONNECTION_CLOSED)$/)
      // While the database is away every statement fails to connect; the driver counts
      // each failure towards the pause before its next connect.
      const away = Date.now()
      let refused = 0
      while (Date.now() - away < 3_500) {
        const error = await db.query('SELECT 1').then(() => null, (e: NodeJS.ErrnoException) => e)
        expect(error?.code).toBe('ECONNREFUSED')
        refused += 1
      }
      expect(refused).toBeGreaterThan(3)
      server.start()
      const back = Date.now()
      const [row] = await db.query<{ ok: number }>('SELECT 1 AS ok')
      expect(row).toEqual({ ok: 1 })
      expect(Date.now() - back).toBeLessThan(2_500)
    } finally {
      await db.close()
    }
  }, 60_000)

  it('killed with SIGKILL at random points, many times over: no job trains twice, no fact is written twice, none is stuck', async () => {
    const seed = campaignSeed('kill campaign')
    const random = mulberry32(seed)
    const url = await freshDatabase(pgUrl)
    const storageDir = join(dir.path, 'storage-kill')
    const { db, ids } = await seed_(url, storageDir, 30)
    const env = daemonEnv(url, storageDir, sim.url)
    // Cluster calls take a while, so that a cycle is long enough for kills to land in it.
    sim.setFaults({ latencyMs: 40 })
    let midCycle = 0
    let rounds = 0
    let daemon: ReturnType<typeof start> | undefined
    try {
      // The kills, at least KILL_ROUNDS of them, until MID_CYCLE_KILLS landed mid-cycle.
      for (; rounds < MAX_KILL_ROUNDS && (rounds < KILL_ROUNDS || midCycle < MID_CYCLE_KILLS); rounds++) {
        daemon = start(['daemon', '--once', '--batch', '4', '--log-format', 'json'], env)
        await daemon.waitFor('stderr', (text) => count(text, 'daemon started') > 0)
        await sleep(Math.floor(random() * 400))
        const before = daemon.output().stderr
        await daemon.stop('SIGKILL')
        // Killed in the middle of its cycle: started it, had not finished it, was not exiting.
        if (count(before, 'cycle done') === 0 && count(before, 'cycle failed') === 0 && count(before, 'daemon stopped') === 0) midCycle += 1
      }
      process.stderr.write(`kill campaign: ${midCycle} of ${rounds} kills landed mid-cycle\n`)
      expect(midCycle, `kills that landed mid-cycle in ${rounds} rounds (seed ${seed})`).toBeGreaterThanOrEqual(MID_CYCLE_KILLS)
      sim.setFaults({ latencyMs: 0 })
      // Then a daemon that is left alone, until nothing is active (bounded): the leases of
      // the killed ones expire, it takes their jobs over and finishes them.
      daemon = start(['daemon', '--interval', '100ms', '--batch', '30', '--log-format', 'json'], env)
      const active = async () =>
        ((await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM training_jobs WHERE status IN ('queued','initializing','running')`)) as [{ n: number }])[0].n
      for (const until = Date.now() + 60_000; daemon.child.exitCode === null && Date.now() < until && (await active()) > 0; ) await sleep(100)
      expect(await daemon.stop('SIGTERM'), daemon.output().stderr.slice(-2000)).toBe(0)
      const jobs = await db.query<{ id: string; status: string; external_job_id: string | null }>('SELECT id, status, external_job_id FROM training_jobs')
      expect(jobs.filter((j) => !['completed', 'failed', 'cancelled'].includes(j.status)), `seed ${seed}`).toEqual([])
      // Nothing fails and nothing is cancelled in this campaign (no cluster faults, more
      // attempts than kills): every job trained to the end.
      expect(jobs.filter((j) => j.status !== 'completed'), `jobs that did not complete (seed ${seed})`).toEqual([])
      expect(jobs).toHaveLength(30)
      // One training run per job on the cluster, whatever the number of submit calls.
      const listed = (await fetch(`${sim.url}/training/jobs`).then((r) => r.json())) as { jobs: { job_id: string; external_job_id: string }[] }
      const mine = listed.jobs.filter((j) => ids.includes(j.job_id))
      expect(new Set(mine.map((j) => j.job_id)).size).toBe(mine.length)
      for (const job of jobs.filter((j) => j.external_job_id)) {
        expect(mine.find((m) => m.job_id === job.id)?.external_job_id).toBe(job.external_job_id)
      }
      const dupCosts = await db.query(`SELECT job_id FROM cost_records GROUP BY job_id, cost_type HAVING count(*) > 1`)
      const dupNotes = await db.query(`SELECT job_id FROM notifications GROUP BY job_id, type HAVING count(*) > 1`)
      expect(dupCosts).toEqual([])
      expect(dupNotes).toEqual([])
      // Every job that ended says so once; every cost it incurred is recorded once.
      const ended = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM training_jobs j
          WHERE (SELECT count(*) FROM notifications x WHERE x.job_id = j.id AND x.type = 'job_' || j.status) = 1`,
      )
      expect(ended[0]!.n).toBe(jobs.length)
      const uncosted = await db.query(`SELECT id FROM training_jobs j WHERE final_cost > 0 AND NOT EXISTS (SELECT 1 FROM cost_records c WHERE c.job_id = j.id)`)
      expect(uncosted).toEqual([])
      // Every job that reached the cluster has exactly one cost record (they all ran in
      // one month), $0.00 included, and it holds the job's final cost.
      const costed = await db.query<{ id: string; n: number; total: number; final_cost: number }>(
        `SELECT j.id, count(c.id)::int AS n, coalesce(sum(c.amount), 0)::float8 AS total, j.final_cost::float8 AS final_cost
           FROM training_jobs j LEFT JOIN cost_records c ON c.job_id = j.id WHERE j.external_job_id IS NOT NULL GROUP BY j.id, j.final_cost`,
      )
      expect(costed.length).toBeGreaterThan(0)
      expect(costed.filter((c) => c.n !== 1 || c.total !== c.final_cost)).toEqual([])
    } finally {
      await daemon?.stop('SIGKILL')
      sim.setFaults({ latencyMs: 0 })
      await db.close()
    }
  }, 240_000)

  it('stops on SIGTERM within a bounded time, exit 0, its leases released', async () => {
    const url = await freshDatabase(pgUrl)
    const storageDir = join(dir.path, 'storage-term')
    const { db } = await seed_(url, storageDir, 5)
    let daemon: ReturnType<typeof start> | undefined
    try {
      daemon = start(['daemon', '--interval', '200ms', '--log-format', 'json'], daemonEnv(url, storageDir, sim.url))
      await daemon.waitFor('stderr', (text) => count(text, 'job submitted') > 0)
      const sent = Date.now()
      expect(await daemon.stop('SIGTERM')).toBe(0)
      expect(Date.now() - sent).toBeLessThan(10_000)
      expect(daemon.output().stderr).toContain('"msg":"daemon stopped"')
      const held = await db.query(`SELECT id FROM training_jobs WHERE claimed_by IS NOT NULL AND status = 'running'`)
      expect(held).toEqual([])
      const [beat] = await db.query<{ status: string }>('SELECT status FROM lora_ops.daemon_heartbeats')
      expect(beat!.status).toBe('stopped')
    } finally {
      await daemon?.stop('SIGKILL')
      await db.close()
    }
  })

  // This one waits out the other daemons' verdict (at least 15 s without a beat): the
  // restart campaign runs meanwhile, on its own server and folder.
  it.concurrent('takes over the running jobs of a daemon killed with SIGKILL within 30 s, though their 5-minute leases run on, without a second submission', async () => {
    // Its own folder (the default 5-minute lease) and a simulator in real time (the jobs keep running).
    const own = tempDir('lora-takeover-')
    const slow = await startSimulator({ speed: 1, seed: 5 })
    const url = await freshDatabase(pgUrl)
    const storageDir = join(own.path, 'storage')
    const { db, ids } = await seed_(url, storageDir, 4)
    const env = daemonEnv(url, storageDir, slow.url)
    const startDaemon = () => startLora(['daemon', '--interval', '1s', '--log-format', 'json'], { cwd: own.path, env })
    const holders = async () => db.query<{ claimed_by: string | null; n: number }>(`SELECT claimed_by, count(*)::int AS n FROM training_jobs WHERE status = 'running' GROUP BY claimed_by`)
    const a = startDaemon()
    let b: ReturnType<typeof startDaemon> | undefined
    try {
      let held: { claimed_by: string | null; n: number }[] = []
      for (let i = 0; i < 300 && !(held.length === 1 && held[0]!.n === 4) && a.child.exitCode === null; i++) {
        await new Promise((r) => setTimeout(r, 100))
        held = await holders()
      }
      expect(held).toEqual([{ claimed_by: expect.any(String), n: 4 }])
      const dead = held[0]!.claimed_by!
      b = startDaemon()
      await a.stop('SIGKILL')
      const killedAt = Date.now()
      let takenOver = false
      while (!takenOver && Date.now() - killedAt < 45_000 && b.child.exitCode === null) {
        await new Promise((r) => setTimeout(r, 250))
        const now = await holders()
        takenOver = now.length === 1 && now[0]!.n === 4 && now[0]!.claimed_by !== dead && now[0]!.claimed_by !== null
      }
      const elapsed = Date.now() - killedAt
      expect(takenOver).toBe(true)
      expect(elapsed).toBeLessThan(30_000)
      const [lease] = await db.query<{ left: number }>(`SELECT min(extract(epoch FROM lease_expires_at - now()))::float8 AS left FROM training_jobs`)
      expect(lease!.left).toBeGreaterThan(60)
      for (const id of ids) expect(slow.submissions(id)).toBe(1)
    } finally {
      await a.stop('SIGKILL')
      await b?.stop('SIGTERM')
      await db.close()
      await slow.close()
      own.remove()
    }
  }, 120_000)

  it.concurrent(`rides out ${RESTART_ROUNDS} database restarts at random points of its cycles without dying, and serves /healthz and /metrics meanwhile`, async () => {
    const seed = campaignSeed('restart campaign')
    const random = mulberry32(seed)
    let daemon: ReturnType<typeof start> | undefined
    try {
      const url = await freshDatabase(server.url)
      const storageDir = join(dir.path, 'storage-restart')
      // Enough jobs, training slowly enough, that every cycle polls and writes.
      const seeded = await seed_(url, storageDir, 12)
      await seeded.db.close()
      daemon = start(['daemon', '--interval', '100ms', '--listen', '127.0.0.1:0', '--log-format', 'json'], daemonEnv(url, storageDir, sim.url))
      await daemon.waitFor('stderr', (text) => /"url":"http:\/\/127\.0\.0\.1:\d+"/.test(text))
      const base = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(daemon.output().stderr)![1]!
      await daemon.waitFor('stderr', (text) => count(text, 'job submitted') > 0)
      expect((await fetch(`${base}/healthz`)).status).toBe(200)

      for (let round = 0; round < RESTART_ROUNDS; round++) {
        const done = count(daemon.output().stderr, 'cycle done')
        await daemon.waitFor('stderr', (text) => count(text, 'cycle done') > done)
        // Anywhere in the next cycle, or between two.
        await sleep(Math.floor(random() * 120))
        const failed = count(daemon.output().stderr, 'cycle failed')
        server.stop(round % 2 === 0 ? 'fast' : 'immediate')
        const wanted = round === 0 ? 3 : 1
        // While the database is down each post-cycle task waits to connect too, so on a
        // loaded machine failed cycles come seconds apart: a generous bound.
        await daemon.waitFor('stderr', (text) => count(text, 'cycle failed') >= failed + wanted, 180_000)
        if (round === 0) expect((await fetch(`${base}/healthz`)).status).toBe(503)
        server.start()
        await daemon.waitFor('stderr', (text) => text.lastIndexOf('"msg":"cycle done"') > text.lastIndexOf('"msg":"cycle failed'))
      }
      expect(daemon.child.exitCode, daemon.output().stderr.slice(-3000)).toBeNull()
      expect(daemon.output().stderr).not.toContain('unexpected failure')
      const healthz = await fetch(`${base}/healthz`)
      expect(healthz.status, `${await healthz.clone().text()}\n${daemon.output().stderr.slice(-3000)}`).toBe(200)
      const metrics = await (await fetch(`${base}/metrics`)).text()
      expect(metrics).toContain('lora_daemon_cycle_duration_seconds_bucket')
      expect(metrics).toMatch(/lora_jobs\{status="running"\} \d+/)
      expect(metrics).toContain('lora_daemon_last_successful_cycle_timestamp_seconds')
      expect(metrics).toContain('lora_cluster_breaker_state{cluster="primary"} 0')
      expect(await daemon.stop('SIGTERM')).toBe(0)
    } finally {
      await daemon?.stop('SIGKILL')
    }
  }, 900_000)
})
