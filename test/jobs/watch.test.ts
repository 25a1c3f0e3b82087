import { afterEach, describe, expect, it } from 'vitest'
import { backends, type TestDb } from '../helpers/db.js'
import { testContext } from '../helpers/context.js'
import { daemonHarness, type DaemonHarness } from '../helpers/daemon.js'
import { FakeClock } from '../../src/clock.js'
import type { Db } from '../../src/db/types.js'
import { optionIssueToError } from '../../src/cli.js'
import { runCycle } from '../../src/daemon/cycle.js'
import { Options, run } from '../../commands/jobs-watch.js'
import { at, insertDataset, insertJob, until, USER, watchSession, PRIMARY } from './fixtures.js'

const watchOpts = (input: Record<string, unknown>) => {
  const parsed = Options.safeParse({ json: false, ...input })
  if (!parsed.success) throw optionIssueToError(parsed.error.issues)
  return parsed.data
}
const lines = (text: string) => text.split('\n').filter(Boolean)
const CYCLE = { batch: 20, concurrency: 8, pollLimit: 1000 }

/** The same database, its reads counted, and able to lose its connection or its LISTEN on demand. */
function observed(db: Db, options: { listen: boolean }) {
  const state = { down: false, reads: 0 }
  const wrapped: Db = {
    ...db,
    async query(sql, params) {
      state.reads += 1
      if (state.down) throw Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' })
      return db.query(sql, params)
    },
    listen: options.listen ? (channel, fn) => db.listen(channel, fn) : async () => null,
  }
  return { db: wrapped, state }
}

const RUNNING = {
  status: 'running', stage: 'training', progress: 45, epoch: 1, step: 135, currentCost: 0.18,
  metrics: { training_loss: 1.2345, learning_rate: 0.0003, throughput: 2450, gpu_utilization: 95.1 },
  externalId: 'sim-abc', cluster: 'sim', startedAt: at(1), updatedAt: at(11),
}

async function update(db: Db, id: string, set: string, params: unknown[], notify: string | null) {
  await db.query(`UPDATE training_jobs SET ${set} WHERE id = $1`, [id, ...params])
  if (notify) await db.query(`SELECT pg_notify('lora_jobs', $1)`, [`${id}:${notify}`])
}

describe('jobs watch: flags', () => {
  it('refuses a malformed id and a bad interval as usage errors', () => {
    expect(() => watchOpts({ args: 'job-1' })).toThrow('Invalid argument: expected a job id (a UUID, or its first 4 or more characters), got "job-1".')
    expect(() => watchOpts({ args: USER, interval: '10' })).toThrow('Invalid --interval: expected a duration of at least 100ms such as 2s, 10m or 7d (got "10").')
    expect(watchOpts({ args: USER })).toMatchObject({ interval: 2000 })
  })
})

for (const backend of backends) {
  describe.skipIf(!backend.available)(`jobs watch (${backend.name})`, () => {
    let db: TestDb | undefined
    let h: DaemonHarness | undefined
    afterEach(async () => {
      await db?.close()
      await h?.close()
      db = undefined
      h = undefined
    })

    it('prints one tab-separated line per change, woken by NOTIFY, and exits 0 when the job completes', async () => {
      db = await backend.open()
      const id = await insertJob(db, { datasetId: await insertDataset(db), ...RUNNING })
      const o = observed(db, { listen: true })
      // A clock that never moves: only the notifications wake the watch.
      const t = testContext({ db: o.db, clock: new FakeClock(at(12)) })
      const watching = run(watchOpts({ args: id, interval: '30s' }), t.ctx)
      await until(() => lines(t.stdout()).length === 2, 'the header and the first line')

      await update(db, id, `progress = 80, current_step = 240, current_cost = 0.35, updated_at = $2,
        current_metrics = '{"training_loss": 0.9, "validation_loss": 1.01, "learning_rate": 0.0001, "throughput": 2500, "gpu_utilization": 97.5}'`, [at(20)], 'running')
      await until(() => lines(t.stdout()).length === 3, 'the second line')
      // A write that changes nothing shown (only the time) prints nothing.
      const reads = o.state.reads
      await update(db, id, 'updated_at = $2', [at(21)], 'running')
      await until(() => o.state.reads > reads, 'the re-read')
      await update(db, id, `status = 'completed', current_stage = 'completed', progress = 100, current_step = 300, final_cost = 0.41,
        current_cost = 0.41, completed_at = $2, updated_at = $2`, [at(25)], 'completed')

      expect(await watching).toBe(0)
      expect(t.stdout()).toBe(
        [
          'updated_at\tstatus\tstage\tprogress\tepoch\tstep\ttraining_loss\tvalidation_loss\tthroughput\tgpu_utilization\tcost\teta_seconds\tnote',
          '2026-03-10T12:11:00.000Z\trunning\ttraining\t45.00\t1/1\t135/300\t1.2345\t\t2450\t95.1\t0.18\t415\t',
          '2026-03-10T12:20:00.000Z\trunning\ttraining\t80.00\t1/1\t240/300\t0.9\t1.01\t2500\t97.5\t0.35\t389\t',
          '2026-03-10T12:25:00.000Z\tcompleted\tcompleted\t100.00\t1/1\t300/300\t0.9\t1.01\t2500\t97.5\t0.41\t\t',
          '',
        ].join('\n'),
      )
      expect(t.stderr()).toBe(`Job ${id} completed; final cost $0.41.\n`)
    })

    it('polls every interval where LISTEN is unavailable, prints JSON events with --json, and exits 1 when the job fails', async () => {
      db = await backend.open()
      const id = await insertJob(db, { datasetId: await insertDataset(db), ...RUNNING })
      const o = observed(db, { listen: false })
      const clock = new FakeClock(at(12))
      const t = testContext({ db: o.db, clock })
      const watching = run(watchOpts({ args: id, interval: '30s', json: true }), t.ctx)
      await until(() => lines(t.stdout()).length === 1 && clock.pending === 1, 'the first event')
      await update(db, id, `status = 'failed', current_stage = 'failed', error_message = 'CUDA out of memory', final_cost = 0.2, completed_at = $2, updated_at = $2`, [at(12)], null)
      clock.advance(30_000)
      expect(await watching).toBe(1)
      const events = lines(t.stdout()).map((l) => JSON.parse(l) as Record<string, unknown>)
      expect(events).toEqual([
        {
          id, status: 'running', stage: 'training', progress: 45, current_epoch: 1, total_epochs: 1, current_step: 135, total_steps: 300,
          training_loss: 1.2345, validation_loss: null, learning_rate: 0.0003, throughput: 2450, gpu_utilization: 95.1, cost: 0.18,
          estimated_total_cost: 0.19, eta_seconds: 415, wait_reason: null, error_message: null,
          started_at: '2026-03-10T12:01:00.000Z', completed_at: null, updated_at: '2026-03-10T12:11:00.000Z',
        },
        expect.objectContaining({ status: 'failed', stage: 'failed', cost: 0.2, eta_seconds: null, error_message: 'CUDA out of memory', completed_at: '2026-03-10T12:12:00.000Z' }),
      ])
      expect(clock.sleeps).toEqual([30_000])
      expect(t.stderr()).toBe(`Job ${id} failed: CUDA out of memory.\n`)
    })

    it('says a lost database connection on stderr, retries with backoff on the clock, and carries on', async () => {
      db = await backend.open()
      const id = await insertJob(db, { datasetId: await insertDataset(db), ...RUNNING })
      const o = observed(db, { listen: false })
      const clock = new FakeClock(at(12))
      const t = testContext({ db: o.db, clock })
      const watching = run(watchOpts({ args: id, interval: '30s' }), t.ctx)
      await until(() => clock.pending === 1, 'the first sleep')
      o.state.down = true
      clock.advance(30_000)
      await until(() => t.stderr().includes('retrying in 1s') && clock.pending === 1, 'the first retry')
      clock.advance(1_000)
      await until(() => t.stderr().includes('retrying in 2s') && clock.pending === 1, 'the second retry')
      o.state.down = false
      await update(db, id, `status = 'cancelled', current_stage = 'cancelled', final_cost = 0.2, completed_at = $2, updated_at = $2`, [at(12)], null)
      clock.advance(2_000)
      expect(await watching).toBe(1)
      expect(clock.sleeps).toEqual([30_000, 1_000, 2_000])
      expect(t.stderr()).toBe(
        [
          'lost the database connection (connect ECONNREFUSED 127.0.0.1:5432); retrying in 1s',
          'lost the database connection (connect ECONNREFUSED 127.0.0.1:5432); retrying in 2s',
          'reconnected to the database; watching again',
          `Job ${id} was cancelled; final cost $0.20.`,
          '',
        ].join('\n'),
      )
      expect(lines(t.stdout()).map((l) => l.split('\t')[1])).toEqual(['status', 'running', 'cancelled'])
    })

    it('stops on Ctrl-C with exit 130 and leaves the job running', async () => {
      db = await backend.open()
      const id = await insertJob(db, { datasetId: await insertDataset(db), ...RUNNING })
      const controller = new AbortController()
      const clock = new FakeClock(at(12))
      const t = testContext({ db, clock, signal: controller.signal })
      const watching = run(watchOpts({ args: id }), t.ctx)
      await until(() => clock.pending === 1, 'the watch to wait')
      controller.abort()
      expect(await watching).toBe(130)
      expect(t.stderr()).toBe(`Stopped watching: job ${id} keeps running (\`lora jobs watch ${id}\` to follow it again).\n`)
      expect((await db.query<{ status: string }>('SELECT status FROM training_jobs WHERE id = $1', [id]))[0]!.status).toBe('running')
    })

    // Runs on one database only (the real server when there is one): it tests the command, not the driver.
    if (backend === PRIMARY) it('follows a job through the daemon and the simulator to completed, a line per change, exit 0', async () => {
      h = await daemonHarness(backend)
      const [id] = await h.submit(1, 'fast')
      const session = watchSession(h)
      const t = testContext({ db: session.db, config: h.config, clock: session.clock })
      const watching = run(watchOpts({ args: id!, interval: '1h' }), t.ctx)
      let settled = false
      void watching.finally(() => (settled = true))
      await until(() => lines(t.stdout()).length === 2, 'the header and the first line')
      const env = await h.env()
      let cycles = 0
      for (; cycles < 40 && !settled; cycles++) {
        await runCycle(env, CYCLE)
        h.clock.advance(5 * 60_000)
        await session.caughtUp(id!, () => settled)
      }
      expect(settled).toBe(true)
      expect(cycles).toBeLessThan(40)
      expect(await watching).toBe(0)
      const [header, ...rows] = lines(t.stdout()).map((l) => l.split('\t'))
      expect(header![0]).toBe('updated_at')
      expect(rows.every((r) => r.length === 13)).toBe(true)
      expect(rows[0]![1]).toBe('queued')
      expect(rows[rows.length - 1]!.slice(1, 4)).toEqual(['completed', 'completed', '100.00'])
      expect(rows.some((r) => r[1] === 'running' && Number(r[3]) > 0 && Number(r[3]) < 100)).toBe(true)
      const progress = rows.map((r) => Number(r[3]))
      expect(progress).toEqual([...progress].sort((a, b) => a - b))
      const statuses = [...new Set(rows.map((r) => r[1]))]
      expect(statuses[0]).toBe('queued')
      expect(statuses[statuses.length - 1]).toBe('completed')
      expect(t.stderr()).toMatch(new RegExp(`^Job ${id} completed; final cost \\$\\d+\\.\\d\\d\\.\\n$`))
    })

    // Runs on one database only (the real server when there is one): it tests the command, not the driver.
    if (backend === PRIMARY) it('redraws the live view in place on a terminal: status, bar, ETA, loss, GPU, cost, and both loss curves', async () => {
      h = await daemonHarness(backend)
      const [id] = await h.submit(1, 'balanced')
      const session = watchSession(h)
      const t = testContext({ db: session.db, config: h.config, tty: true, clock: session.clock })
      const watching = run(watchOpts({ args: id!, interval: '1h' }), t.ctx)
      let settled = false
      void watching.finally(() => (settled = true))
      await until(() => t.stdout().includes('Training Monitor'), 'the first frame')
      const env = await h.env()
      const frames = () => t.stdout().split('Training Monitor').length - 1
      let cycles = 0
      for (; cycles < 60 && !settled; cycles++) {
        const before = frames()
        await runCycle(env, CYCLE)
        h.clock.advance(30_000)
        await session.caughtUp(id!, () => settled)
        // Every read the watch makes is drawn: at least the one after the probe.
        expect(frames()).toBeGreaterThan(before)
      }
      expect(settled).toBe(true)
      expect(cycles).toBeLessThan(60)
      expect(await watching).toBe(0)
      const out = t.stdout()
      expect(out.startsWith('\x1b[?25l')).toBe(true)
      expect(out.endsWith('\x1b[?25h')).toBe(true)
      // Each frame goes back up exactly the lines of the frame before, and clears below.
      const parts = out.slice('\x1b[?25l'.length, -'\x1b[?25h'.length).split(/\x1b\[(\d+)F\x1b\[J/)
      const drawn = parts.filter((_, i) => i % 2 === 0)
      const rewinds = parts.filter((_, i) => i % 2 === 1).map(Number)
      expect(drawn.length).toBeGreaterThan(5)
      rewinds.forEach((n, i) => expect(n).toBe(drawn[i]!.split('\n').length - 1))
      const plain = (f: string) => f.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '')
      const midRun = drawn.find((f) => f.includes('epoch 3/3') && f.includes('● Running') && f.includes('· training'))!
      expect(midRun).toBeDefined()
      expect(midRun).toMatch(/\x1b\[32m█+\x1b\[39m\x1b\[90m░+\x1b\[39m +\d+\.\d%\n/)
      const text = plain(midRun)
      expect(text).toMatch(/\nProgress  █+░+ +\d+\.\d%\n/)
      expect(text).toMatch(/\n {10}epoch 3\/3 · step [\d,]+\/[\d,]+ · ETA [\dhms]+ · elapsed [\dhms]+\n/)
      expect(text).toMatch(/\nLoss      training \d\.\d{4} · validation \d\.\d{4}\n/)
      expect(text).toMatch(/\nSpeed     [\d,]+ tokens\/s · GPU \d+\.\d% \(1x A100-40GB\)\n/)
      expect(text).toMatch(/\nCost      \$\d+\.\d\d so far · est\. \$\d+\.\d\d\n/)
      expect(text).toMatch(/\nLoss over steps [\d,]+–[\d,]+\n/)
      expect(text).toMatch(/\n +\d\.\d{3} [┤┼]/)
      // Both curves, each in its colour: training on top, validation branching off it.
      expect(midRun).toMatch(/\x1b\[33m[╮╰─│╯╭]/)
      expect(midRun).toMatch(/\x1b\[34m[╮╰─│╯╭]/)
      expect(midRun).toContain('\x1b[33m━━\x1b[39m training  \x1b[34m━━\x1b[39m validation')
      for (const frame of drawn) for (const line of frame.split('\n')) expect(line.replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').length).toBeLessThanOrEqual(120)
      expect(drawn[drawn.length - 1]).toContain('● Completed')
    })
  })
}
