import { afterEach, describe, expect, it } from 'vitest'
import { backends, type Backend } from '../helpers/db.js'
import { daemonHarness, type DaemonHarness } from '../helpers/daemon.js'
import { runCycle, type CycleEnv } from '../../src/daemon/cycle.js'
import { RULES } from '../../src/alerts/rules.js'
import { alertsConfig } from '../../src/config/schema.js'

const MIN = 60_000

async function byStatus(h: DaemonHarness): Promise<Record<string, number>> {
  const rows = await h.db.query<{ status: string; n: number }>('SELECT status, count(*)::int AS n FROM training_jobs GROUP BY status')
  return Object.fromEntries(rows.map((r) => [r.status, r.n]))
}

/** Four daemons: on Postgres each with its own connection, on PGlite sharing its one. */
async function fourDaemons(h: DaemonHarness, backend: Backend): Promise<CycleEnv[]> {
  const envs: CycleEnv[] = []
  for (let i = 0; i < 4; i++) envs.push(await h.env(`daemon-${i}`, backend.name === 'postgres' ? await h.db.connectAgain!() : h.db))
  return envs
}

for (const backend of backends) {
  describe.skipIf(!backend.available)(`a budget that concurrency cannot overshoot (${backend.name})`, () => {
    let h: DaemonHarness | undefined
    afterEach(async () => {
      await h?.close()
      h = undefined
    })

    it('4 daemons, a $10 budget, 40 queued jobs estimated at $1: 10 start, 30 wait with the reason, none lost once the budget is raised', async () => {
      h = await daemonHarness(backend, { config: { budget: { monthlyUsd: 10, warnRatio: 0.75 } } })
      const ids = await h.submit(40, 'fast')
      await h.db.query('UPDATE training_jobs SET estimated_total_cost = 1')
      const envs = await fourDaemons(h, backend)
      for (let round = 0; round < 3; round++) {
        await Promise.all(envs.map((env) => runCycle(env, { batch: 20, concurrency: 8, pollLimit: 1000 })))
      }
      const counts = await byStatus(h)
      expect((counts.initializing ?? 0) + (counts.running ?? 0)).toBe(10)
      expect(counts.queued).toBe(30)
      const reasons = await h.db.query<{ wait_reason: string | null }>(`SELECT DISTINCT wait_reason FROM training_jobs WHERE status = 'queued'`)
      expect(reasons).toEqual([{ wait_reason: 'monthly budget: $10.00 of $10.00 committed, this job needs $1.00' }])
      expect(ids.filter((id) => h!.sim.submissions(id) > 0)).toHaveLength(10)

      // Raised: the rest start, each submitted once, and nothing waits any more.
      h.config.budget.monthlyUsd = 40
      for (let round = 0; round < 3; round++) {
        await Promise.all(envs.map((env) => runCycle(env, { batch: 20, concurrency: 8, pollLimit: 1000 })))
      }
      const after = await byStatus(h)
      expect(after.queued ?? 0).toBe(0)
      expect(Object.values(after).reduce((a, b) => a + b, 0)).toBe(40)
      for (const id of ids) expect(h.sim.submissions(id)).toBe(1)
      const waiting = await h.db.query(`SELECT 1 FROM training_jobs WHERE wait_reason IS NOT NULL`)
      expect(waiting).toHaveLength(0)
    })

    it('a job too large for what is left is passed over, not waited behind; finished jobs count by what they cost', async () => {
      h = await daemonHarness(backend, { config: { budget: { monthlyUsd: 5, warnRatio: 0.75 } } })
      const [big, small] = await h.submit(2, 'fast')
      await h.db.query('UPDATE training_jobs SET estimated_total_cost = CASE WHEN id = $1 THEN 6 ELSE 0.5 END', [big])
      const env = await h.env()
      await runCycle(env, { batch: 20, concurrency: 8, pollLimit: 1000 })
      const rows = await h.db.query<{ id: string; status: string; wait_reason: string | null }>('SELECT id, status, wait_reason FROM training_jobs')
      expect(rows.find((r) => r.id === small)!.status).toBe('running')
      expect(rows.find((r) => r.id === big)).toMatchObject({ status: 'queued', wait_reason: 'monthly budget: $0.50 of $5.00 committed, this job needs $6.00' })
      // Once the small job ends, its reservation gives way to its real cost.
      for (let i = 0; i < 20 && (await byStatus(h)).running; i++) {
        h.clock.advance(10 * MIN)
        await runCycle(env, { batch: 20, concurrency: 8, pollLimit: 1000 })
      }
      // The next claim reads it.
      await runCycle(env, { batch: 20, concurrency: 8, pollLimit: 1000 })
      const [{ final_cost }] = (await h.db.query<{ final_cost: number }>('SELECT final_cost FROM training_jobs WHERE id = $1', [small])) as [{ final_cost: number }]
      const [waiting] = await h.db.query<{ wait_reason: string }>('SELECT wait_reason FROM training_jobs WHERE id = $1', [big])
      expect(waiting!.wait_reason).toBe(`monthly budget: $${final_cost.toFixed(2)} of $5.00 committed, this job needs $6.00`)
    })

    it('a running job past 1.5x its estimate raises cost-overrun naming it; a job under the ratio does not', async () => {
      h = await daemonHarness(backend)
      const [over, fine] = await h.submit(2, 'fast')
      await runCycle(await h.env(), { batch: 20, concurrency: 8, pollLimit: 1000 })
      await h.db.query('UPDATE training_jobs SET estimated_total_cost = 1, current_cost = CASE WHEN id = $1 THEN 1.6 ELSE 1.4 END', [over])
      const rule = RULES.find((r) => r.name === 'cost-overrun')!
      const result = await rule.evaluate!({ db: h.db, config: h.config, alerts: alertsConfig(h.config), now: h.clock.now() })
      expect(result.observations).toEqual([
        expect.objectContaining({ rule: 'cost-overrun', subject: over, severity: 'warning', value: 1.6, threshold: 1.5,
          message: `Training job ${over} has cost $1.60, 1.6x its estimate of $1.00.` }),
      ])
      expect(result.observations.some((o) => o.subject === fine)).toBe(false)
    })
  })
}
