import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { BIN, runLora, tempDir } from '../helpers/cli.js'
import { pgUrl } from '../helpers/db.js'
import { startPgServer, type PgServer } from '../helpers/pg-server.js'
import { openPostgres } from '../../src/db/postgres.js'
import { migrate } from '../../src/db/migrate.js'
import { startSimulator, type Simulator } from '../../src/cluster/simulator.js'
import { submitJob } from '../../src/jobs/submit.js'
import { PRESETS } from '../../src/jobs/presets.js'
import { testConfig } from '../helpers/context.js'
import { systemClock } from '../../src/clock.js'
import type { Db } from '../../src/db/types.js'

const USER = '00000000-0000-4000-8000-0000000000f1'

/** A database with the schema, a ready dataset in folder storage, and `count` queued jobs. */
async function seed(url: string, storageDir: string, count: number): Promise<{ db: Db; ids: string[] }> {
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

describe.skipIf(!pgUrl)('the daemon under faults (child processes, real Postgres)', () => {
  let sim: Simulator
  let dir: { path: string; remove(): void }
  beforeAll(async () => {
    // An hour of simulated training per real second: jobs finish within the test.
    sim = await startSimulator({ speed: 3600, seed: 3 })
    dir = tempDir('lora-faults-')
    // Short leases, so that jobs claimed by killed daemons come back quickly.
    writeFileSync(join(dir.path, '.lorarc'), 'profiles:\n  default:\n    training: { lease: 2s }\n')
  })
  afterAll(async () => {
    await sim.close()
    dir.remove()
  })

  it('killed with SIGKILL at random points, many times over: no job trains twice, no fact is written twice, none is stuck', async () => {
    const url = await freshDatabase(pgUrl)
    const storageDir = join(dir.path, 'storage-kill')
    const { db, ids } = await seed(url, storageDir, 30)
    const env = daemonEnv(url, storageDir, sim.url)
    try {
      for (let round = 0; round < 20; round++) {
        const child = spawn(process.execPath, [BIN, 'daemon', '--once', '--batch', '4', '--log-format', 'json'], {
          cwd: dir.path,
          env: { PATH: process.env.PATH ?? '', HOME: dir.path, ...env },
          stdio: 'ignore',
        })
        const exited = new Promise((resolve) => child.on('close', resolve))
        await new Promise((r) => setTimeout(r, 150 + Math.floor(Math.random() * 600)))
        child.kill('SIGKILL')
        await exited
      }
      // Then daemons that are left alone, until nothing is active (bounded).
      for (let run = 0; run < 40; run++) {
        const r = await runLora(['daemon', '--once', '--batch', '30', '--log-format', 'json'], { cwd: dir.path, env })
        expect(r.code).toBe(0)
        const [{ n }] = (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM training_jobs WHERE status IN ('queued','initializing','running')`)) as [{ n: number }]
        if (n === 0) break
        await new Promise((r) => setTimeout(r, 500))
      }
      const jobs = await db.query<{ id: string; status: string; external_job_id: string | null }>('SELECT id, status, external_job_id FROM training_jobs')
      expect(jobs.filter((j) => !['completed', 'failed', 'cancelled'].includes(j.status))).toEqual([])
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
    } finally {
      await db.close()
    }
  }, 240_000)

  it('takes over the running jobs of a daemon killed with SIGKILL within 30 s, though their 5-minute leases run on, without a second submission', async () => {
    // Its own folder (the default 5-minute lease) and a simulator in real time (the jobs keep running).
    const own = tempDir('lora-takeover-')
    const slow = await startSimulator({ speed: 1, seed: 5 })
    const url = await freshDatabase(pgUrl)
    const storageDir = join(own.path, 'storage')
    const { db, ids } = await seed(url, storageDir, 4)
    const env = { PATH: process.env.PATH ?? '', HOME: own.path, ...daemonEnv(url, storageDir, slow.url) }
    const start = () => {
      const child = spawn(process.execPath, [BIN, 'daemon', '--interval', '1s', '--log-format', 'json'], { cwd: own.path, env, stdio: 'ignore' })
      return { child, exited: new Promise((resolve) => child.on('close', resolve)) }
    }
    const holders = async () => db.query<{ claimed_by: string | null; n: number }>(`SELECT claimed_by, count(*)::int AS n FROM training_jobs WHERE status = 'running' GROUP BY claimed_by`)
    const a = start()
    let b: ReturnType<typeof start> | undefined
    try {
      let held: { claimed_by: string | null; n: number }[] = []
      for (let i = 0; i < 300 && !(held.length === 1 && held[0]!.n === 4) && a.child.exitCode === null; i++) {
        await new Promise((r) => setTimeout(r, 100))
        held = await holders()
      }
      expect(held).toEqual([{ claimed_by: expect.any(String), n: 4 }])
      const dead = held[0]!.claimed_by!
      b = start()
      a.child.kill('SIGKILL')
      await a.exited
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
      a.child.kill('SIGKILL')
      await a.exited
      if (b) {
        b.child.kill('SIGTERM')
        await b.exited
      }
      await db.close()
      await slow.close()
      own.remove()
    }
  }, 120_000)

  it('stops on SIGTERM within a bounded time, exit 0, its leases released', async () => {
    const url = await freshDatabase(pgUrl)
    const storageDir = join(dir.path, 'storage-term')
    const { db } = await seed(url, storageDir, 5)
    try {
      const child = spawn(process.execPath, [BIN, 'daemon', '--interval', '200ms', '--log-format', 'json'], {
        cwd: dir.path,
        env: { PATH: process.env.PATH ?? '', HOME: dir.path, ...daemonEnv(url, storageDir, sim.url) },
        stdio: ['ignore', 'ignore', 'pipe'],
      })
      let stderr = ''
      child.stderr.on('data', (d) => (stderr += d))
      const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
      for (let i = 0; i < 100 && !stderr.includes('job submitted'); i++) await new Promise((r) => setTimeout(r, 100))
      expect(stderr).toContain('job submitted')
      const sent = Date.now()
      child.kill('SIGTERM')
      expect(await exited).toBe(0)
      expect(Date.now() - sent).toBeLessThan(10_000)
      expect(stderr).toContain('"msg":"daemon stopped"')
      const held = await db.query(`SELECT id FROM training_jobs WHERE claimed_by IS NOT NULL AND status = 'running'`)
      expect(held).toEqual([])
      const [beat] = await db.query<{ status: string }>('SELECT status FROM lora_ops.daemon_heartbeats')
      expect(beat!.status).toBe('stopped')
    } finally {
      await db.close()
    }
  })

  it('rides out a database restart without restarting itself, and serves /healthz and /metrics meanwhile', async () => {
    const server: PgServer | null = await startPgServer()
    expect(server).not.toBeNull()
    const url = await freshDatabase(server!.url)
    const storageDir = join(dir.path, 'storage-restart')
    const seeded = await seed(url, storageDir, 3)
    await seeded.db.close()
    const child = spawn(process.execPath, [BIN, 'daemon', '--interval', '200ms', '--listen', '127.0.0.1:0', '--log-format', 'json'], {
      cwd: dir.path,
      env: { PATH: process.env.PATH ?? '', HOME: dir.path, ...daemonEnv(url, storageDir, sim.url) },
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (d) => (stderr += d))
    const exited = new Promise<number | null>((resolve) => child.on('close', resolve))
    try {
      for (let i = 0; i < 100 && !/"url":"http:\/\/127\.0\.0\.1:\d+"/.test(stderr); i++) await new Promise((r) => setTimeout(r, 100))
      const base = /"url":"(http:\/\/127\.0\.0\.1:\d+)"/.exec(stderr)![1]!
      for (let i = 0; i < 100 && !stderr.includes('job submitted'); i++) await new Promise((r) => setTimeout(r, 100))
      expect((await fetch(`${base}/healthz`)).status).toBe(200)

      server!.stop('fast')
      for (let i = 0; i < 300 && (stderr.match(/cycle failed/g) ?? []).length < 3; i++) await new Promise((r) => setTimeout(r, 100))
      expect((stderr.match(/cycle failed/g) ?? []).length, stderr.slice(-4000)).toBeGreaterThanOrEqual(3)
      expect((await fetch(`${base}/healthz`)).status).toBe(503)
      expect(child.exitCode).toBeNull()

      server!.start()
      const failuresBefore = (stderr.match(/cycle failed/g) ?? []).length
      let recovered = false
      for (let i = 0; i < 200 && !recovered; i++) {
        await new Promise((r) => setTimeout(r, 100))
        recovered = stderr.lastIndexOf('"msg":"cycle done"') > stderr.lastIndexOf('"msg":"cycle failed')
      }
      expect(recovered, stderr.slice(-3000)).toBe(true)
      expect(failuresBefore).toBeGreaterThanOrEqual(3)
      const healthz = await fetch(`${base}/healthz`)
      expect(healthz.status, `${await healthz.clone().text()}\n${stderr.slice(-3000)}`).toBe(200)
      const metrics = await (await fetch(`${base}/metrics`)).text()
      expect(metrics).toContain('lora_daemon_cycle_duration_seconds_bucket')
      expect(metrics).toMatch(/lora_jobs\{status="running"\} \d+/)
      expect(metrics).toContain('lora_daemon_last_successful_cycle_timestamp_seconds')
      expect(metrics).toContain('lora_cluster_breaker_state{cluster="primary"} 0')
    } finally {
      child.kill('SIGTERM')
      await exited
      server!.destroy()
    }
  }, 120_000)
})
