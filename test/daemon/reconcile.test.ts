import { afterEach, describe, expect, it } from 'vitest'
import { backends } from '../helpers/db.js'
import { daemonHarness, drainJobs, type DaemonHarness } from '../helpers/daemon.js'
import { testContext } from '../helpers/context.js'
import { reconcileAndAlert } from '../../src/jobs/reconcile.js'
import { run } from '../../commands/costs-reconcile.js'
import { UsageError } from '../../src/errors.js'

const MIN = 60_000
const STRANGER = '5f0e1d2c-3b4a-4958-8776-655443322110'

async function reconcile(h: DaemonHarness, json = true): Promise<{ code: number; out: string; report: Record<string, any> | null }> {
  const t = testContext({ db: h.db, config: h.config, clock: h.clock })
  const code = await run({ json }, t.ctx)
  await t.ctx.close()
  return { code, out: t.stdout(), report: json ? JSON.parse(t.stdout()) : null }
}

for (const backend of backends) {
  describe.skipIf(!backend.available)(`costs reconcile (${backend.name})`, () => {
    let h: DaemonHarness | undefined
    afterEach(async () => {
      await h?.close()
      h = undefined
    })

    it('clean data reconciles (exit 0); an injected drift is found job by job (exit 1), and raises cost-drift from the daily run', async () => {
      h = await daemonHarness(backend)
      const ids = await h.submit(3, 'fast')
      await drainJobs(h, await h.env(), 10 * MIN)
      const clean = await reconcile(h)
      expect(clean.code).toBe(0)
      expect(clean.report).toMatchObject({ month: '2026-03', clusters: ['sim'], drift: 0, ok: true, unowned: [] })
      expect(clean.report!.jobs.map((j: { job_id: string }) => j.job_id).sort()).toEqual([...ids].sort())
      for (const line of clean.report!.jobs) {
        expect(line.state).toBe('ok')
        expect(line.billed_gpu_seconds).toBeGreaterThan(0)
        expect(line.recorded).toBe(line.billed_cost)
      }
      expect((await reconcile(h, false)).out).toBe("Costs of 2026-03 reconcile with the cluster's billing.\n")

      // $1.00 more recorded than billed for one job: well past 1 % of the month.
      await h.db.query('UPDATE cost_records SET amount = amount + 1 WHERE job_id = $1', [ids[0]])
      const drifted = await reconcile(h)
      expect(drifted.code).toBe(1)
      expect(drifted.report).toMatchObject({ drift: 1, ok: false })
      expect(drifted.report!.jobs.find((j: { job_id: string }) => j.job_id === ids[0])).toMatchObject({ state: 'drift', difference: 1 })
      const human = await reconcile(h, false)
      expect(human.code).toBe(1)
      expect(human.out).toMatch(/^Costs of 2026-03 do not reconcile: cost records differ from the cluster's billing by \$1\.00 over 1 job\(s\) \(threshold \$0\.\d\d, 1 % of \$\d+\.\d\d\)\.\n\njob\tstate\tstatus\tbilled_gpu_s\tbilled\trecorded\tdifference\n/)
      expect(human.out).toContain(`${ids[0]}\tdrift\tcompleted\t`)

      await reconcileAndAlert(h.ctx)
      const alerts = await h.db.query<{ rule: string; status: string; severity: string }>(`SELECT rule, status, severity FROM lora_ops.alert_state WHERE rule = 'cost-drift'`)
      expect(alerts).toEqual([{ rule: 'cost-drift', status: 'firing', severity: 'warning' }])
      // Mended: the next daily run resolves it.
      await h.db.query('UPDATE cost_records SET amount = amount - 1 WHERE job_id = $1', [ids[0]])
      await reconcileAndAlert(h.ctx)
      const after = await h.db.query<{ status: string }>(`SELECT status FROM lora_ops.alert_state WHERE rule = 'cost-drift'`)
      expect(after).toEqual([{ status: 'resolved' }])
    })

    it('a cluster job that no platform job owns, holding billed GPU time, is listed and fails the reconciliation', async () => {
      h = await daemonHarness(backend)
      await h.submit(1, 'fast')
      await drainJobs(h, await h.env(), 10 * MIN)
      const response = await fetch(`${h.sim.url}/training/submit`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': STRANGER },
        body: JSON.stringify({ job_id: STRANGER, dataset_url: 'http://127.0.0.1:9/x.jsonl', hyperparameters: { num_epochs: 1 }, gpu_config: { gpu_type: 'A10G', num_gpus: 1 } }),
      })
      const { external_job_id } = (await response.json()) as { external_job_id: string }
      h.clock.advance(10 * MIN)
      const result = await reconcile(h)
      expect(result.code).toBe(1)
      expect(result.report!.ok).toBe(false)
      expect(result.report!.drift).toBe(0)
      expect(result.report!.unowned).toEqual([
        { cluster: 'sim', job_id: STRANGER, external_job_id, status: 'running', started_at: expect.any(String), billed_gpu_seconds: expect.any(Number) },
      ])
      expect(result.report!.unowned[0].billed_gpu_seconds).toBeGreaterThan(0)
      expect(result.report!.unowned_gpu_seconds).toBe(result.report!.unowned[0].billed_gpu_seconds)
      const human = await reconcile(h, false)
      expect(human.out).toMatch(/^Costs of 2026-03 do not reconcile: 1 cluster job\(s\) no platform job owns hold \d+ billed GPU minute\(s\)\.\n/)
      expect(human.out).toContain(`sim\t${external_job_id}\t${STRANGER}\trunning\t`)
    })

    it('a run the cluster billed for a job that never recorded its external id (its daemon died in between) is drift, found by the job id', async () => {
      h = await daemonHarness(backend)
      const [id] = await h.submit(1, 'fast')
      // Submitted under its id, then the daemon died; the job later failed its attempts.
      await fetch(`${h.sim.url}/training/submit`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'idempotency-key': id! },
        body: JSON.stringify({ job_id: id, dataset_url: 'http://127.0.0.1:9/x.jsonl', hyperparameters: { num_epochs: 1 }, gpu_config: { gpu_type: 'A10G', num_gpus: 1 } }),
      })
      await h.db.query(`UPDATE training_jobs SET status = 'failed', final_cost = 0, completed_at = $2 WHERE id = $1`, [id, h.clock.now()])
      h.clock.advance(10 * MIN)
      const result = await reconcile(h)
      expect(result.code).toBe(1)
      expect(result.report!.unowned).toEqual([])
      expect(result.report!.jobs).toEqual([expect.objectContaining({ job_id: id, external_job_id: expect.stringMatching(/^sim-/), cluster: 'sim', state: 'drift', recorded: 0 })])
      expect(result.report!.jobs[0].billed_cost).toBeGreaterThan(0)
    })

    it('refuses a bad --month (exit 2) without calling the cluster', async () => {
      h = await daemonHarness(backend)
      const t = testContext({ db: h.db, config: h.config, clock: h.clock })
      const before = h.sim.requests()
      const error = await run({ json: false, month: 'march' }, t.ctx).then(() => null, (e: unknown) => e)
      expect(error).toBeInstanceOf(UsageError)
      expect(error).toMatchObject({ exitCode: 2, message: 'Invalid --month: expected YYYY-MM such as 2026-03, got "march".' })
      expect(t.stdout()).toBe('')
      expect(h.sim.requests()).toBe(before)
      await t.ctx.close()
    })
  })
}
