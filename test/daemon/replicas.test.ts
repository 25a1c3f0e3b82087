import { afterEach, describe, expect, it } from 'vitest'
import { backends } from '../helpers/db.js'
import { daemonHarness, type DaemonHarness } from '../helpers/daemon.js'
import { runCycle, type CycleEnv } from '../../src/daemon/cycle.js'

const postgres = backends.find((b) => b.name === 'postgres')!

// Several daemons at once need several connections: a Postgres server.
describe.skipIf(!postgres.available)('many daemons on one database (postgres)', () => {
  let h: DaemonHarness | undefined
  afterEach(async () => {
    await h?.close()
    h = undefined
  })

  it('four daemons drain 500 queued jobs and submit each exactly once', async () => {
    h = await daemonHarness(postgres)
    const ids = await h.submit(500)
    const envs: CycleEnv[] = []
    for (let i = 0; i < 4; i++) envs.push(await h.env(`daemon-${i}`, await h.db.connectAgain!()))
    let rounds = 0
    for (; rounds < 60; rounds++) {
      const reports = await Promise.all(envs.map((env) => runCycle(env, { batch: 25, concurrency: 16, pollLimit: 1 })))
      expect(reports.every((r) => r.released === 0)).toBe(true)
      const [{ n }] = (await h.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM training_jobs WHERE status = 'queued'`)) as [{ n: number }]
      if (n === 0) break
    }
    expect(rounds).toBeLessThan(60)
    const rows = await h.db.query<{ id: string; status: string; external_job_id: string; claimed_by: string }>(
      'SELECT id, status, external_job_id, claimed_by FROM training_jobs',
    )
    expect(rows.every((r) => r.status === 'running')).toBe(true)
    expect(new Set(rows.map((r) => r.external_job_id)).size).toBe(500)
    for (const id of ids) expect(h.sim.submissions(id)).toBe(1)
    // Every daemon took a share of the work.
    const byDaemon = new Set(rows.map((r) => r.claimed_by))
    expect(byDaemon.size).toBe(4)
  })
})
