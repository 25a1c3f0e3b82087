import { afterEach, describe, expect, it } from 'vitest'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { backends } from '../helpers/db.js'
import { lapseLeases, daemonHarness, USER, type DaemonHarness } from '../helpers/daemon.js'
import { runCycle, type CycleOptions } from '../../src/daemon/cycle.js'
import { claimQueuedJobs } from '../../src/db/queries/claim.js'
import { createClusterClient } from '../../src/cluster/client.js'

const OPTIONS: CycleOptions = { batch: 20, concurrency: 8, pollLimit: 1000 }
const MIN = 60_000

async function statuses(h: DaemonHarness) {
  return h.db.query<{ id: string; status: string }>('SELECT id, status FROM training_jobs ORDER BY created_at')
}


/** Cycles every `stepMs` of fake time until no job is active (bounded). */
async function drain(h: DaemonHarness, stepMs = 10 * MIN, maxCycles = 40) {
  const env = await h.env()
  for (let i = 0; i < maxCycles; i++) {
    await runCycle(env, OPTIONS)
    const [{ n }] = (await h.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM training_jobs WHERE status IN ('queued','initializing','running')`)) as [{ n: number }]
    if (n === 0) return i + 1
    h.clock.advance(stepMs)
  }
  throw new Error('jobs still active after the cycle budget')
}

/**
 * A door in front of the simulator: the first submit waits at it until the test
 * opens it, so that what happens "while the submit is in flight" happens then, on a
 * loaded machine too. Everything else passes straight through.
 */
async function submitGate() {
  let arrived!: () => void
  let opened!: () => void
  const submitArrived = new Promise<void>((resolve) => (arrived = resolve))
  const door = new Promise<void>((resolve) => (opened = resolve))
  const seen: string[] = []
  const gate = {
    url: '',
    target: '',
    seen,
    submitArrived,
    open: () => opened(),
  }
  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    seen.push(`${req.method} ${req.url}`)
    if (req.method === 'POST' && req.url === '/training/submit') {
      arrived()
      await door
    }
    const headers: Record<string, string> = {}
    for (const name of ['content-type', 'idempotency-key', 'authorization']) {
      const value = req.headers[name]
      if (typeof value === 'string') headers[name] = value
    }
    const answer = await fetch(`${gate.target}${req.url}`, { method: req.method, headers, body: chunks.length > 0 ? Buffer.concat(chunks) : undefined })
    res.writeHead(answer.status, { 'content-type': answer.headers.get('content-type') ?? 'application/json' })
    res.end(Buffer.from(await answer.arrayBuffer()))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  gate.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  gates.push(
    () =>
      new Promise<void>((resolve) => {
        opened()
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  )
  return gate
}
const gates: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const close of gates.splice(0)) await close()
})

for (const backend of backends) {
  describe.skipIf(!backend.available)(`the daemon's cycle (${backend.name})`, () => {
    let h: DaemonHarness | undefined
    afterEach(async () => {
      await h?.close()
      h = undefined
    })

    it('takes a job from queued through running to completed, writing each fact once', async () => {
      h = await daemonHarness(backend)
      const [id] = await h.submit(1, 'fast')
      const env = await h.env()
      const first = await runCycle(env, OPTIONS)
      expect(first).toMatchObject({ claimed: 1, submitted: 1, polled: 1 })
      const [running] = await h.db.query<Record<string, unknown>>('SELECT status, external_job_id, started_at, cluster_name, claimed_by FROM training_jobs WHERE id = $1', [id])
      expect(running).toMatchObject({ status: 'running', cluster_name: 'sim', claimed_by: 'daemon-1' })
      expect(h.sim.submissions(id!)).toBe(1)

      // Six minutes in: past the run's preparation (about four), training.
      h.clock.advance(6 * MIN)
      await runCycle(env, OPTIONS)
      const [progress] = await h.db.query<{ progress: number; current_step: number; current_cost: number; current_metrics: Record<string, number> }>(
        'SELECT progress, current_step, current_cost, current_metrics FROM training_jobs WHERE id = $1', [id])
      expect(progress!.progress).toBeGreaterThan(0)
      expect(progress!.current_step).toBeGreaterThan(0)
      expect(progress!.current_metrics.training_loss).toBeGreaterThan(0)
      // A10G at $1.10/h for six minutes, less the few seconds the run waited for its GPU.
      expect(progress!.current_cost).toBeGreaterThanOrEqual(0.1)
      expect(progress!.current_cost).toBeLessThanOrEqual(0.11)

      await drain(h)
      const [done] = await h.db.query<Record<string, unknown>>('SELECT status, progress, final_cost, completed_at, artifact_id FROM training_jobs WHERE id = $1', [id])
      expect(done).toMatchObject({ status: 'completed', progress: 100 })
      expect(done!.final_cost).toBeGreaterThan(0)
      const costs = await h.db.query<{ amount: number; cost_type: string }>('SELECT amount, cost_type FROM cost_records WHERE job_id = $1', [id])
      expect(costs).toEqual([{ amount: done!.final_cost, cost_type: 'training_compute' }])
      const notes = await h.db.query<{ type: string }>('SELECT type FROM notifications WHERE job_id = $1 ORDER BY created_at, type', [id])
      expect(notes.map((n) => n.type).sort()).toEqual(['job_completed', 'job_started'])
      const points = await h.db.query<{ n: number }>('SELECT count(*)::int AS n FROM metrics_points WHERE job_id = $1', [id])
      expect(points[0]!.n).toBeGreaterThan(1)
      const [artifact] = await h.db.query<Record<string, unknown>>('SELECT id, status, storage_path, validation_image_urls, artifacts FROM model_artifacts WHERE job_id = $1', [id])
      expect(artifact).toMatchObject({ id: done!.artifact_id, status: 'stored', storage_path: `${USER}/${id}/adapter.safetensors` })
      expect(artifact!.validation_image_urls).toEqual([0, 1, 2].map((n) => `${USER}/${id}/validation/${n}.jpg`))
      const storage = await h.ctx.storage()
      const adapter = await storage.stat('lora-models', `${USER}/${id}/adapter.safetensors`)
      expect(adapter?.size).toBe((artifact!.artifacts as { lora_adapter_size: number }).lora_adapter_size)
      expect(await storage.stat('lora-validation-images', `${USER}/${id}/validation/2.jpg`)).not.toBeNull()

      // More cycles write nothing again.
      await runCycle(env, OPTIONS)
      expect((await h.db.query('SELECT * FROM cost_records')).length).toBe(1)
    })

    it('sends the same number of statements per cycle for 4 running jobs as for 40', async () => {
      h = await daemonHarness(backend)
      const { countingDb } = await import('../../src/db/counting.js')
      const counted = countingDb(h.db)
      const env = { ...(await h.env()), db: counted }
      const measure = async () => {
        await runCycle(env, { ...OPTIONS, batch: 100 })
        h!.clock.advance(MIN)
        counted.reset()
        await runCycle(env, { ...OPTIONS, batch: 100 })
        return counted.statements
      }
      await h.submit(4)
      const few = await measure()
      await h.submit(36)
      const many = await measure()
      expect((await h.db.query<{ n: number }>(`SELECT count(*)::int AS n FROM training_jobs WHERE status = 'running'`))[0]!.n).toBe(40)
      expect(many).toBe(few)
    })

    it('fails a job the cluster fails, with its reason, once', async () => {
      h = await daemonHarness(backend, { simulator: { jobFailRate: 1 } })
      const [id] = await h.submit(1)
      await drain(h)
      const [job] = await h.db.query<Record<string, unknown>>('SELECT status, error_message, error_type, counts_toward_limit FROM training_jobs WHERE id = $1', [id])
      expect(job).toMatchObject({ status: 'failed', error_type: 'TRAINING_ERROR' })
      expect(String(job!.error_message).length).toBeGreaterThan(5)
      const notes = await h.db.query<{ type: string; message: string }>(`SELECT type, message FROM notifications WHERE job_id = $1 AND type = 'job_failed'`, [id])
      expect(notes).toEqual([{ type: 'job_failed', message: `Your training job failed: ${job!.error_message}` }])
    })

    it('cancels on the cluster, and fails with "Training timeout", a job that trains past the limit; the user is not charged a slot', async () => {
      h = await daemonHarness(backend, { simulator: { neverFinishRate: 1 } })
      const [id] = await h.submit(1)
      const before = await h.db.query<{ n: number }>('SELECT loras_created_this_month AS n FROM user_training_limits WHERE user_id = $1', [USER])
      await drain(h, 30 * MIN)
      const [job] = await h.db.query<Record<string, unknown>>('SELECT status, error_message, error_type, counts_toward_limit, external_job_id FROM training_jobs WHERE id = $1', [id])
      expect(job).toMatchObject({ status: 'failed', error_message: 'Training timeout', error_type: 'TIMEOUT_ERROR', counts_toward_limit: false })
      const client = createClusterClient({ name: 'check', url: h.sim.url, connectTimeoutMs: 2000, requestTimeoutMs: 2000 }, { clock: h.clock })
      expect((await client.status(String(job!.external_job_id))).status).toBe('cancelled')
      await client.close()
      const after = await h.db.query<{ n: number }>('SELECT loras_created_this_month AS n FROM user_training_limits WHERE user_id = $1', [USER])
      expect(after[0]!.n).toBe(before[0]!.n - 1)
    })

    it('keeps a job cancelled while it was being submitted cancelled, and cancels its cluster job', async () => {
      const gate = await submitGate()
      h = await daemonHarness(backend, { config: { clusters: [{ name: 'sim', url: gate.url, connectTimeoutMs: 2_000, requestTimeoutMs: 2_000 }] } })
      gate.target = h.sim.url
      const [id] = await h.submit(1)
      const env = await h.env()
      const cycle = runCycle(env, OPTIONS)
      // While the submit call is held in flight, someone cancels the job; then the cluster answers.
      await gate.submitArrived
      expect(h.sim.submissions(id!)).toBe(0)
      await h.db.query(`UPDATE training_jobs SET status = 'cancelled', completed_at = now() WHERE id = $1`, [id])
      gate.open()
      const report = await cycle
      expect(report).toMatchObject({ claimed: 1, submitted: 0, cancelledWhileSubmitting: 1 })
      expect(h.sim.submissions(id!)).toBe(1)
      expect(gate.seen.filter((path) => path === 'POST /training/submit')).toHaveLength(1)
      expect((await statuses(h))[0]!.status).toBe('cancelled')
      const listed = await fetch(`${h.sim.url}/training/jobs`).then((r) => r.json() as Promise<{ jobs: { job_id: string; status: string }[] }>)
      expect(listed.jobs).toEqual([expect.objectContaining({ job_id: id, status: 'cancelled' })])
    })

    it('gives a job whose daemon died back to the queue at lease expiry and resubmits it under the same idempotency key', async () => {
      h = await daemonHarness(backend)
      const [id] = await h.submit(1)
      // A daemon claims the job, submits it, and dies before recording the external id.
      await claimQueuedJobs(h.db, 'dead-daemon', h.clock.now(), h.config.training.leaseMs, 10)
      const client = createClusterClient({ name: 'x', url: h.sim.url, connectTimeoutMs: 2000, requestTimeoutMs: 2000 }, { clock: h.clock })
      const first = await client.submit({ job_id: id!, dataset_url: 'http://127.0.0.1:1/x', hyperparameters: { num_epochs: 1 }, gpu_config: { gpu_type: 'A10G', num_gpus: 1 } })
      await client.close()
      const env = await h.env('daemon-2')
      const early = await runCycle(env, OPTIONS)
      expect(early).toMatchObject({ leasesExpired: 0, claimed: 0 })
      await lapseLeases(h)
      const report = await runCycle(env, OPTIONS)
      expect(report).toMatchObject({ leasesExpired: 1, claimed: 1, submitted: 1 })
      const [job] = await h.db.query<Record<string, unknown>>('SELECT status, external_job_id, attempts FROM training_jobs WHERE id = $1', [id])
      expect(job).toMatchObject({ status: 'running', external_job_id: first.external_job_id, attempts: 2 })
      expect(h.sim.submissions(id!)).toBe(2)
      const listed = await fetch(`${h.sim.url}/training/jobs`).then((r) => r.json() as Promise<{ jobs: unknown[] }>)
      expect(listed.jobs).toHaveLength(1)
    })

    it('fails a job after its third lost lease, with the reason', async () => {
      h = await daemonHarness(backend)
      const [id] = await h.submit(1)
      for (let attempt = 1; attempt <= 3; attempt++) {
        await claimQueuedJobs(h.db, `dead-${attempt}`, h.clock.now(), h.config.training.leaseMs, 10)
        await lapseLeases(h)
        const env = await h.env('observer')
        if (attempt < 3) {
          // Expire without claiming again: a full queue elsewhere; the job must be back in it.
          const { expireInitializingLeases } = await import('../../src/db/queries/claim.js')
          expect(await expireInitializingLeases(h.db, h.clock.now(), 3)).toEqual([{ id, status: 'queued' }])
        } else {
          await runCycle(env, { ...OPTIONS, batch: 1 })
        }
      }
      const [job] = await h.db.query<Record<string, unknown>>('SELECT status, error_type, attempts, error_message FROM training_jobs WHERE id = $1', [id])
      expect(job).toMatchObject({ status: 'failed', error_type: 'LEASE_EXPIRED', attempts: 3 })
      expect(job!.error_message).toBe('Its daemon stopped answering on each of 3 attempts (lease expired)')
    })

    it('leaves queued jobs queued, with the reason, over the monthly budget', async () => {
      h = await daemonHarness(backend)
      await h.submit(2)
      await h.db.query(`INSERT INTO cost_records (user_id, cost_type, amount, billing_period, recorded_at) VALUES ($1, 'manual', 200, '2026-03-01', $2)`, [USER, h.clock.now()])
      const report = await runCycle(await h.env(), OPTIONS)
      expect(report).toMatchObject({ claimed: 0, waitReason: 'monthly budget: $200.00 of $200.00 committed; 2 queued job(s) wait' })
      const rows = await h.db.query<{ status: string; wait_reason: string }>('SELECT status, wait_reason FROM training_jobs')
      // Each says what it needs: its estimate (200,000 tokens, one epoch on one A10G).
      expect(rows).toEqual([
        { status: 'queued', wait_reason: 'monthly budget: $200.00 of $200.00 committed, this job needs $0.19' },
        { status: 'queued', wait_reason: 'monthly budget: $200.00 of $200.00 committed, this job needs $0.19' },
      ])
    })

    it('opens the breaker on a failing cluster, keeps jobs queued with the reason, and closes it after the cooldown', async () => {
      h = await daemonHarness(backend, { simulator: { failRate: 1 } })
      await h.submit(3)
      const env = await h.env()
      const report = await runCycle(env, OPTIONS)
      // Each submission was retried (2 s, 4 s, 8 s on the fake clock) and then given back.
      expect(report).toMatchObject({ claimed: 3, submitted: 0, released: 3 })
      expect(report.breakerTransitions).toEqual([{ cluster: 'sim', from: 'closed', to: 'open' }])
      expect(h.clock.sleeps.filter((ms) => ms >= 2000 && ms < 2500).length).toBeGreaterThanOrEqual(3)
      const next = await runCycle(env, OPTIONS)
      expect(next.claimed).toBe(0)
      expect(next.waitReason).toMatch(/^cluster sim's breaker is open until /)
      const queued = await h.db.query<{ status: string; wait_reason: string }>('SELECT status, wait_reason FROM training_jobs')
      expect(queued.every((j) => j.status === 'queued' && j.wait_reason === next.waitReason)).toBe(true)

      h.sim.setFaults({ failRate: 0 })
      h.clock.advance(30 * MIN)
      const probe = await runCycle(env, OPTIONS)
      // Half-open: exactly one job is the probe; its success closes the breaker.
      expect(probe).toMatchObject({ claimed: 1, submitted: 1 })
      expect(probe.breakerTransitions).toEqual([{ cluster: 'sim', from: 'half_open', to: 'closed' }])
      const after = await runCycle(env, OPTIONS)
      expect(after.submitted).toBe(2)
    })

    it('submits to the fallback cluster while the primary breaker is open', async () => {
      const { startSimulator } = await import('../../src/cluster/simulator.js')
      const fallbackSim = await startSimulator({ seed: 9 })
      try {
        h = await daemonHarness(backend, { simulator: { failRate: 1 } })
        const primary = h.config.clusters[0]!
        h.config.clusters.splice(0, 1, { ...primary, name: 'primary', fallback: 'backup' }, { name: 'backup', url: fallbackSim.url, connectTimeoutMs: 2000, requestTimeoutMs: 2000 })
        const { openClusters } = await import('../../src/cluster/index.js')
        const clusters = await openClusters(h.ctx)
        const env = { ...(await h.env()), clusters }
        await h.submit(3)
        const first = await runCycle(env, OPTIONS)
        expect(first.breakerTransitions).toEqual([{ cluster: 'primary', from: 'closed', to: 'open' }])
        const next = await runCycle(env, OPTIONS)
        expect(next.submitted).toBe(3)
        const rows = await h.db.query<{ cluster_name: string; status: string }>('SELECT cluster_name, status FROM training_jobs')
        expect(rows).toEqual(Array.from({ length: 3 }, () => ({ cluster_name: 'backup', status: 'running' })))
        await clusters.close()
      } finally {
        await fallbackSim.close()
      }
    })
  })
}
