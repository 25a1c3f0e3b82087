import { afterEach, describe, expect, it } from 'vitest'
import { backends } from '../helpers/db.js'
import { daemonHarness, drainJobs as drain, lapseLeases, type DaemonHarness } from '../helpers/daemon.js'
import { testContext } from '../helpers/context.js'
import { userRollups } from '../helpers/rollups.js'
import { runCycle, type CycleOptions } from '../../src/daemon/cycle.js'
import { readMonthSpend } from '../../src/metrics/series.js'
import { budgetReport } from '../../src/jobs/budget.js'
import { monthOf } from '../../src/month.js'
import { run as cancel, Options as CancelOptions } from '../../commands/jobs-cancel.js'

const OPTIONS: CycleOptions = { batch: 50, concurrency: 8, pollLimit: 1000 }
const MIN = 60_000
const A10G = 1.1

interface CostRow {
  job_id: string
  amount: number
  billing_period: string
  recorded_at: Date
  details: { source: string; billed_gpu_seconds: number | null; status: string; month: string }
}

async function costRecords(h: DaemonHarness, id?: string): Promise<CostRow[]> {
  return h.db.query<CostRow>(
    `SELECT job_id, amount, to_char(billing_period, 'YYYY-MM-DD') AS billing_period, recorded_at, details FROM cost_records
      ${id ? 'WHERE job_id = $1' : ''} ORDER BY job_id, billing_period`,
    id ? [id] : [],
  )
}

async function job(h: DaemonHarness, id: string) {
  const [row] = await h.db.query<{ status: string; final_cost: number; external_job_id: string; cost_source: string; billed_gpu_seconds: number | null }>(
    'SELECT status, final_cost, external_job_id, cost_source, billed_gpu_seconds FROM training_jobs WHERE id = $1', [id])
  return row!
}

async function clusterStatus(h: DaemonHarness, externalId: string): Promise<{ status: string; billed_gpu_seconds?: number }> {
  return (await fetch(`${h.sim.url}/training/status/${externalId}`)).json() as Promise<{ status: string; billed_gpu_seconds?: number }>
}

const cents = (n: number) => Math.round(n * 100) / 100

/** The per-user rollups equal the direct aggregates, and hold what the test wrote. */
async function expectRollupsExact(h: DaemonHarness, costLines: number): Promise<void> {
  const { rollup, direct } = await userRollups(h.db)
  expect(rollup).toEqual(direct)
  expect(rollup.costs).toHaveLength(costLines)
}

for (const backend of backends) {
  describe.skipIf(!backend.available)(`costs from the cluster's billed GPU time (${backend.name})`, () => {
    let h: DaemonHarness | undefined
    afterEach(async () => {
      await h?.close()
      h = undefined
    })

    it('at --speed 3000 a completed job costs the GPU time the cluster billed, not the wall clock, and its record says so', async () => {
      h = await daemonHarness(backend, { simulator: { speed: 3000 } })
      const [id] = await h.submit(1, 'fast')
      const env = await h.env()
      await drain(h, env, 5_000)
      const done = await job(h, id!)
      expect(done.status).toBe('completed')
      const billed = (await clusterStatus(h, done.external_job_id)).billed_gpu_seconds!
      // Simulated time: a run of ten minutes or so (its estimate: 0.169 h), though only seconds passed here.
      expect(billed).toBeGreaterThan(8 * 60)
      expect(done.final_cost).toBe(cents((billed / 3600) * A10G))
      expect(done).toMatchObject({ cost_source: 'cluster', billed_gpu_seconds: billed })
      const records = await costRecords(h, id)
      expect(records).toHaveLength(1)
      expect(records[0]).toMatchObject({ amount: done.final_cost, billing_period: '2026-03-01', details: { source: 'cluster', billed_gpu_seconds: billed, status: 'completed', month: '2026-03' } })
      await expectRollupsExact(h, 1)
    })

    it('a cluster that does not report billing: 40 jobs at --speed 3000 cost $0.00 by the wall clock, and each has its one record saying so', async () => {
      h = await daemonHarness(backend, { simulator: { speed: 3000, omitBilling: true } })
      const ids = await h.submit(40, 'fast')
      const env = await h.env()
      await drain(h, env, 5_000)
      const records = await costRecords(h)
      expect(records.map((r) => r.job_id).sort()).toEqual([...ids].sort())
      for (const record of records) expect(record).toMatchObject({ amount: 0, details: { source: 'wall_clock', billed_gpu_seconds: null } })
      await expectRollupsExact(h, 1)
    })

    it('a cluster that does not report billing: cost from the wall clock', async () => {
      h = await daemonHarness(backend, { simulator: { omitBilling: true } })
      const [id] = await h.submit(1, 'fast')
      const env = await h.env()
      await runCycle(env, OPTIONS)
      const started = h.clock.now().getTime()
      await drain(h, env, 10 * MIN)
      const done = await job(h, id!)
      const [completedAt] = await h.db.query<{ completed_at: Date }>('SELECT completed_at FROM training_jobs WHERE id = $1', [id])
      expect(done.final_cost).toBe(cents(((completedAt!.completed_at.getTime() - started) / 3_600_000) * A10G))
      expect((await costRecords(h, id))[0]!.details.source).toBe('wall_clock')
    })

    it('a job cancelled before the cluster billed anything, and a job that failed, each get one record, $0.00 included', async () => {
      h = await daemonHarness(backend, { simulator: { jobFailRate: 0 } })
      const [cancelled, failing] = await h.submit(2, 'fast')
      const env = await h.env()
      await runCycle(env, OPTIONS)
      // Still in the cluster's queue: nothing billed yet.
      const t = testContext({ db: h.db, config: h.config, clock: h.clock })
      expect(await cancel(CancelOptions.parse({ args: [cancelled], yes: true, json: true }), t.ctx)).toBe(0)
      // The other fails on the cluster: a 404 for a job the cluster lost.
      await h.db.query(`UPDATE training_jobs SET external_job_id = 'sim-lost' WHERE id = $1`, [failing])
      h.clock.advance(10 * MIN)
      await runCycle(env, OPTIONS)
      expect((await job(h, failing!)).status).toBe('failed')
      const zero = await costRecords(h, cancelled)
      expect(zero).toHaveLength(1)
      expect(zero[0]).toMatchObject({ amount: 0, details: { source: 'cluster', billed_gpu_seconds: 0, status: 'cancelled' } })
      const failed = await costRecords(h, failing)
      expect(failed).toHaveLength(1)
      expect(failed[0]!.details.status).toBe('failed')
      // Running more cycles writes nothing twice.
      h.clock.advance(10 * MIN)
      await runCycle(env, OPTIONS)
      expect(await costRecords(h)).toHaveLength(2)
      // The cancel (jobs cancel) and the failure (the daemon) both kept the rollups.
      await expectRollupsExact(h, 1)
    })

    it('a job whose daemon died is charged what the cluster billed until it ended, not until another daemon took it over', async () => {
      h = await daemonHarness(backend)
      const [id] = await h.submit(1, 'fast')
      await runCycle(await h.env('daemon-dies'), OPTIONS)
      // The run ends on the cluster within two hours; the daemon is gone for six, and
      // its lease (on the database's clock) has run out.
      h.clock.advance(6 * 60 * MIN)
      await lapseLeases(h)
      await runCycle(await h.env('daemon-2'), OPTIONS)
      const done = await job(h, id!)
      expect(done.status).toBe('completed')
      const billed = (await clusterStatus(h, done.external_job_id)).billed_gpu_seconds!
      expect(billed).toBeLessThan(2 * 3600)
      expect(done.final_cost).toBe(cents((billed / 3600) * A10G))
      expect(done.final_cost).toBeLessThan(6 * A10G)
    })

    it('a job running across the 1st is split between the months by billed time; metrics and the month spend agree', async () => {
      h = await daemonHarness(backend)
      // A fast job of ten minutes or so, started five minutes before midnight.
      h.clock.set('2026-03-31T23:55:00Z')
      const [id] = await h.submit(1, 'fast')
      const env = await h.env()
      await runCycle(env, OPTIONS)
      const [{ external_job_id }] = (await h.db.query<{ external_job_id: string }>('SELECT external_job_id FROM training_jobs WHERE id = $1', [id])) as [{ external_job_id: string }]
      h.clock.set('2026-03-31T23:58:00Z')
      await runCycle(env, OPTIONS)
      h.clock.set('2026-04-01T00:00:00Z')
      const atMidnight = (await clusterStatus(h, external_job_id)).billed_gpu_seconds!
      h.clock.set('2026-04-01T00:03:00Z')
      await runCycle(env, OPTIONS)
      // Mid-run the job's cost so far is already spread over both months.
      const [mid] = await h.db.query<{ current_cost: number; cost_by_month: Record<string, number> }>('SELECT current_cost, cost_by_month FROM training_jobs WHERE id = $1', [id])
      expect(Object.keys(mid!.cost_by_month).sort()).toEqual(['2026-03', '2026-04'])
      expect(cents(mid!.cost_by_month['2026-03']! + mid!.cost_by_month['2026-04']!)).toBe(mid!.current_cost)
      expect((await readMonthSpend(h.db, h.clock.now())).running).toBe(mid!.cost_by_month['2026-04'])
      await drain(h, env, 10 * MIN)
      const done = await job(h, id!)
      const records = await costRecords(h, id)
      expect(records.map((r) => r.billing_period)).toEqual(['2026-03-01', '2026-04-01'])
      const [march, april] = records as [CostRow, CostRow]
      // GPU time accrues steadily: the poll on each side of midnight splits it where it
      // fell, to the cent (each reading is in whole cents).
      expect(Math.abs(march.amount - (atMidnight / 3600) * A10G)).toBeLessThanOrEqual(0.011)
      expect(april.amount).toBeGreaterThan(0)
      expect(cents(march.amount + april.amount)).toBe(done.final_cost)
      expect(march.recorded_at.toISOString()).toBe('2026-03-31T23:59:59.999Z')
      expect(march.details.month).toBe('2026-03')

      const marchSpend = await readMonthSpend(h.db, new Date('2026-03-31T23:59:59.999Z'))
      const aprilSpend = await readMonthSpend(h.db, h.clock.now())
      expect(marchSpend.total).toBeCloseTo(march.amount, 2)
      expect(aprilSpend.total).toBeCloseTo(april.amount, 2)
      // budget show reads the same attribution.
      const marchBudget = await budgetReport(h.db, 200, monthOf(new Date('2026-03-15T00:00:00Z')), h.clock.now())
      const aprilBudget = await budgetReport(h.db, 200, monthOf(h.clock.now()), h.clock.now())
      expect(marchBudget.recorded).toBe(march.amount)
      expect(aprilBudget.recorded).toBe(april.amount)
      expect(marchBudget.daily.at(-1)).toEqual({ day: '2026-03-31', cost: march.amount })
      // One line per month in the per-user rollup, each the month's record.
      await expectRollupsExact(h, 2)
    })
  })
}
