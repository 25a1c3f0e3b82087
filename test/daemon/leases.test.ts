import { afterEach, describe, expect, it } from 'vitest'
import { backends } from '../helpers/db.js'
import { daemonHarness, type DaemonHarness } from '../helpers/daemon.js'
import { runCycle, type CycleOptions, type CycleReport } from '../../src/daemon/cycle.js'
import { claimQueuedJobs, expireInitializingLeases } from '../../src/db/queries/claim.js'
import { beatIntervalMs, startKeeper, type Keeper } from '../../src/daemon/keeper.js'
import { systemClock } from '../../src/clock.js'
import { memoryLog } from '../../src/log.js'
import type { Queryable } from '../../src/db/types.js'

const OPTIONS: CycleOptions = { batch: 20, concurrency: 8, pollLimit: 1000 }
const MIN = 60_000

/** A heartbeat row of `daemonId`, its last beat `agoSeconds` ago. */
async function beat(db: Queryable, daemonId: string, agoSeconds: number, intervalMs: number): Promise<void> {
  await db.query(
    `INSERT INTO lora_ops.daemon_heartbeats (daemon_id, host, pid, version, beat_at, beat_interval_ms)
     VALUES ($1, 'h', 1, 't', now() - make_interval(secs => $2), $3)`,
    [daemonId, agoSeconds, intervalMs],
  )
}

/** Real time, in bounded steps, until `done` says so. */
async function waitFor(done: () => Promise<boolean>, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs
  while (Date.now() < until) {
    if (await done()) return true
    await new Promise((r) => setTimeout(r, 100))
  }
  return done()
}

for (const backend of backends) {
  describe.skipIf(!backend.available)(`leases and heartbeats (${backend.name})`, () => {
    let h: DaemonHarness | undefined
    let keeper: Keeper | undefined
    afterEach(async () => {
      await keeper?.stop()
      keeper = undefined
      await h?.close()
      h = undefined
    })

    it("decides lease expiry on the database's clock: 6 simulated minutes into one slow submit, another daemon does not take the job", async () => {
      h = await daemonHarness(backend)
      const [id] = await h.submit(1)
      const env = await h.env('daemon-1')
      const handle = env.clusters.get('sim')
      const realSubmit = handle.client.submit.bind(handle.client)
      let other: CycleReport | undefined
      let entered = false
      handle.client.submit = async (request, options) => {
        if (!entered) {
          entered = true
          // 4 x 30 s timeouts and 3 x 60 s of Retry-After, on daemon-1's (fake) clock.
          await h!.clock.sleep(6 * MIN)
          other = await runCycle({ ...env, daemonId: 'daemon-2' }, OPTIONS)
        }
        return realSubmit(request, options)
      }
      const report = await runCycle(env, OPTIONS)
      expect(other).toMatchObject({ leasesExpired: 0, claimed: 0, submitted: 0 })
      expect(report).toMatchObject({ claimed: 1, submitted: 1 })
      const [job] = await h.db.query<Record<string, unknown>>('SELECT status, claimed_by, attempts FROM training_jobs WHERE id = $1', [id])
      expect(job).toMatchObject({ status: 'running', claimed_by: 'daemon-1', attempts: 1 })
      expect(h.sim.submissions(id!)).toBe(1)
    })

    it('renews the leases of the jobs a daemon holds while its calls are in flight, and stops renewing when it stops', async () => {
      h = await daemonHarness(backend)
      const [id] = await h.submit(1)
      // The keeper renews every third of it (1 s): two seconds of slack for a loaded machine.
      const leaseMs = 3_000
      // A daemon claims the job, then is busy (a slow submit) well past its lease.
      await claimQueuedJobs(h.db, 'daemon-1', h.clock.now(), leaseMs, 10)
      keeper = await startKeeper({ db: h.db, daemonId: 'daemon-1', host: 'h', pid: 1, version: 't', cycleIntervalMs: 30_000, leaseMs, clock: systemClock, log: memoryLog() })
      expect(keeper.intervalMs).toBe(1_000)
      const started = Date.now()
      while (Date.now() - started < 2 * leaseMs) {
        await new Promise((r) => setTimeout(r, 200))
        expect(await expireInitializingLeases(h.db, h.clock.now(), 3)).toEqual([])
      }
      const [beat] = await h.db.query<{ beat_interval_ms: number; fresh: boolean }>(
        `SELECT beat_interval_ms, beat_at > now() - interval '3 seconds' AS fresh FROM lora_ops.daemon_heartbeats WHERE daemon_id = 'daemon-1'`,
      )
      expect(beat).toEqual({ beat_interval_ms: 1_000, fresh: true })
      await keeper.stop()
      keeper = undefined
      // Without its daemon the lease runs out (bounded wait: the lease and some slack).
      let expired: { id: string; status: string }[] = []
      expect(await waitFor(async () => (expired = await expireInitializingLeases(h!.db, h!.clock.now(), 3)).length > 0, 10_000)).toBe(true)
      expect(expired).toEqual([{ id, status: 'queued' }])
    })

    it('takes over at once the running jobs of a daemon whose heartbeat went stale, though its lease has minutes left', async () => {
      h = await daemonHarness(backend)
      const ids = await h.submit(3)
      const a = await h.env('daemon-a')
      expect(await runCycle(a, OPTIONS)).toMatchObject({ submitted: 3 })
      await beat(h.db, 'daemon-a', 0, 5000)
      const b = await h.env('daemon-b')
      // Alive: its jobs are its own.
      expect(await runCycle(b, OPTIONS)).toMatchObject({ polled: 0 })
      // Silent for 16 s, three of its 5 s beats and over the 15 s floor: dead.
      await h.db.query(`UPDATE lora_ops.daemon_heartbeats SET beat_at = now() - interval '16 seconds' WHERE daemon_id = 'daemon-a'`)
      const [lease] = await h.db.query<{ left: number }>(`SELECT min(extract(epoch FROM lease_expires_at - now()))::float8 AS left FROM training_jobs`)
      expect(lease!.left).toBeGreaterThan(60)
      expect(await runCycle(b, OPTIONS)).toMatchObject({ polled: 3, submitted: 0 })
      const rows = await h.db.query<{ claimed_by: string; status: string }>('SELECT claimed_by, status FROM training_jobs')
      expect(rows).toEqual(ids.map(() => ({ claimed_by: 'daemon-b', status: 'running' })))
      for (const id of ids) expect(h.sim.submissions(id)).toBe(1)
    })

    it('gives back at once the initializing jobs of a dead daemon, for another to submit under the same key', async () => {
      h = await daemonHarness(backend)
      const [id] = await h.submit(1)
      await claimQueuedJobs(h.db, 'daemon-a', h.clock.now(), h.config.training.leaseMs, 10)
      await beat(h.db, 'daemon-a', 20, 1000)
      expect(await runCycle(await h.env('daemon-b'), OPTIONS)).toMatchObject({ leasesExpired: 1, claimed: 1, submitted: 1 })
      const [job] = await h.db.query<Record<string, unknown>>('SELECT status, claimed_by, attempts FROM training_jobs WHERE id = $1', [id])
      expect(job).toMatchObject({ status: 'running', claimed_by: 'daemon-b', attempts: 2 })
    })

    it('gives back at the next cycle a claim its own last cycle lost in a database outage, though its heartbeat keeps the lease fresh', async () => {
      h = await daemonHarness(backend)
      const [id] = await h.submit(1)
      // A cycle of daemon-a claimed the job, then the database went away before it
      // could submit or release it; daemon-a lives on, and beats.
      await claimQueuedJobs(h.db, 'daemon-a', h.clock.now(), h.config.training.leaseMs, 10)
      await beat(h.db, 'daemon-a', 0, 1000)
      // Another daemon leaves it alone: its holder is alive.
      expect(await runCycle(await h.env('daemon-b'), OPTIONS)).toMatchObject({ leasesExpired: 0, claimed: 0 })
      // daemon-a's next cycle gives it back and submits it, once.
      expect(await runCycle(await h.env('daemon-a'), OPTIONS)).toMatchObject({ leasesExpired: 1, claimed: 1, submitted: 1 })
      const [job] = await h.db.query<Record<string, unknown>>('SELECT status, claimed_by, attempts FROM training_jobs WHERE id = $1', [id])
      expect(job).toMatchObject({ status: 'running', claimed_by: 'daemon-a', attempts: 2 })
      expect(h.sim.submissions(id!)).toBe(1)
    })
  })
}

describe('the beat interval', () => {
  it('is 5 s, or shorter for short cycles and short leases, so that death shows within 15 s', () => {
    expect(beatIntervalMs(30_000, 5 * MIN)).toBe(5_000)
    expect(beatIntervalMs(1_000, 5 * MIN)).toBe(1_000)
    expect(beatIntervalMs(30_000, 2_000)).toBe(666)
  })
})
