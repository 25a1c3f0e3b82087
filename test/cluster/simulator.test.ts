import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { FakeClock } from '../../src/clock.js'
import { StatusResponse, type SubmitRequest } from '../../src/cluster/contract.js'
import { planJob, plannedDurationMs, statusAt } from '../../src/cluster/simulator-model.js'
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/cluster/simulator.js'
import { LoraError } from '../../src/errors.js'

const JOB_ID = '3f2b8c1e-5a4d-4e6f-9b7a-0c1d2e3f4a5b'
const MINUTE = 60_000

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function simulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const sim = await startSimulator({ clock: new FakeClock(), seed: 42, ...options })
  cleanups.push(() => sim.close())
  return sim
}

async function temporaryDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'lora-sim-'))
  cleanups.push(() => rm(dir, { recursive: true, force: true }))
  return dir
}

function jobRequest(overrides: Partial<SubmitRequest> = {}): SubmitRequest {
  return {
    job_id: JOB_ID,
    dataset_url: 'https://storage.example.com/object/sign/lora-datasets/d.jsonl?token=SIGNED-SECRET',
    hyperparameters: { num_epochs: 3, learning_rate: 2e-4, batch_size: 4, lora_rank: 16 },
    gpu_config: { gpu_type: 'A100-80GB', num_gpus: 1 },
    ...overrides,
  }
}

/** Raw HTTP, so that the simulator's answers are checked as sent, not as the client reads them. */
async function call(sim: Simulator, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) {
  const response = await fetch(`${sim.url}${path}`, {
    method,
    headers: body === undefined ? headers : { 'content-type': 'application/json', ...headers },
    body: body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body),
  })
  const text = await response.text()
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch {
    json = undefined
  }
  return { status: response.status, json: json as Record<string, unknown>, text, headers: response.headers }
}

async function submit(sim: Simulator, request: SubmitRequest = jobRequest()): Promise<string> {
  const response = await call(sim, 'POST', '/training/submit', request, { 'idempotency-key': request.job_id })
  expect(response.status).toBeLessThan(300)
  return response.json.external_job_id as string
}

async function status(sim: Simulator, id: string): Promise<StatusResponse> {
  const response = await call(sim, 'GET', `/training/status/${id}`)
  expect(response.status).toBe(200)
  // Every answer must pass the same schema the client applies.
  return StatusResponse.parse(response.json)
}

describe('simulated training', () => {
  it('is a deterministic function of the configuration, the seed and the elapsed time', async () => {
    const clockA = new FakeClock()
    const clockB = new FakeClock()
    const a = await simulator({ clock: clockA })
    const b = await simulator({ clock: clockB })
    const other = await simulator({ clock: new FakeClock(), seed: 43 })
    const idA = await submit(a)
    const idB = await submit(b)
    expect(idB).toBe(idA)
    expect(await submit(other)).not.toBe(idA)

    clockA.advance(25 * MINUTE)
    clockB.advance(25 * MINUTE)
    const seen = await status(a, idA)
    expect(await status(b, idB)).toEqual(seen)
    expect(seen).toEqual(statusAt(planJob(jobRequest(), 42, 'complete'), 25 * MINUTE))
    expect(seen).toMatchObject({ status: 'running', stage: 'training', total_epochs: 3 })
    expect(seen.current_epoch).toBeGreaterThanOrEqual(1)
    expect(seen.current_step).toBeGreaterThan(0)
    expect(seen.current_step).toBeLessThan(seen.total_steps!)
    expect(seen.progress).toBeCloseTo((95 * seen.current_step) / seen.total_steps!, 1)
  })

  it('goes through its stages with a decaying loss, a warmup-then-cosine learning rate, and completes', async () => {
    const clock = new FakeClock()
    const sim = await simulator({ clock })
    const id = await submit(sim)
    const samples: StatusResponse[] = []
    const every = 10_000
    for (let elapsed = 0; elapsed <= 120 * MINUTE; elapsed += every) {
      samples.push(await status(sim, id))
      clock.advance(every)
    }
    const stages = [...new Set(samples.map((s) => `${s.status}/${s.stage}`))]
    expect(stages).toEqual([
      'queued/queued',
      'initializing/preparing',
      'running/training',
      'running/validating',
      'running/saving',
      'completed/completed',
    ])
    for (let i = 1; i < samples.length; i++) {
      expect(samples[i]!.progress).toBeGreaterThanOrEqual(samples[i - 1]!.progress)
      expect(samples[i]!.current_step).toBeGreaterThanOrEqual(samples[i - 1]!.current_step)
      expect(samples[i]!.current_epoch).toBeGreaterThanOrEqual(samples[i - 1]!.current_epoch)
    }
    const training = samples.filter((s) => s.stage === 'training')
    // 10 to 20 minutes an epoch for 3 epochs on one A100.
    expect(training.length * every).toBeGreaterThanOrEqual(30 * MINUTE - every)
    expect(training.length * every).toBeLessThanOrEqual(60 * MINUTE + every)
    const losses = training.map((s) => s.metrics!.training_loss)
    expect(losses.at(-1)!).toBeLessThan(losses[0]! * 0.6)
    const rates = training.map((s) => s.metrics!.learning_rate)
    const peak = rates.indexOf(Math.max(...rates))
    expect(peak).toBeLessThan(training.length / 4)
    expect(rates.at(-1)!).toBeLessThan(rates[peak]! * 0.1)
    const evaluated = training.filter((s) => s.metrics!.validation_loss !== undefined)
    expect(evaluated.length).toBeGreaterThan(0)
    for (const s of evaluated) expect(s.metrics!.validation_loss!).toBeGreaterThan(0)
    for (const s of training) {
      expect(s.metrics!.gpu_utilization).toBeGreaterThan(85)
      expect(s.metrics!.throughput).toBeGreaterThan(2000)
    }

    const done = samples.at(-1)!
    expect(done).toMatchObject({ status: 'completed', progress: 100, current_epoch: 3, current_step: done.total_steps })
    expect(done.artifacts?.validation_images).toHaveLength(3)
  })

  it('runs faster with more GPUs and with the speed option', async () => {
    const slow = planJob(jobRequest(), 42, 'complete')
    const fast = planJob(jobRequest({ gpu_config: { gpu_type: 'A100-80GB', num_gpus: 4 } }), 42, 'complete')
    expect(fast.trainingMs).toBeLessThan(slow.trainingMs / 3)

    const clock = new FakeClock()
    const sim = await simulator({ clock, speed: 120 })
    const id = await submit(sim)
    clock.advance(MINUTE)
    expect((await status(sim, id)).status).toBe('completed')
  })

  it('fails the share of jobs given by jobFailRate, with an error message', async () => {
    const clock = new FakeClock()
    const sim = await simulator({ clock, jobFailRate: 1 })
    const id = await submit(sim)
    clock.advance(3 * 60 * MINUTE)
    const failed = await status(sim, id)
    expect(failed.status).toBe('failed')
    expect(failed.error_message).toMatch(/\w+/)
    expect(failed.progress).toBeLessThan(95)
    expect(failed.artifacts).toBeUndefined()
  })

  it('leaves the share of jobs given by neverFinishRate running with idle GPUs forever, still billed for them', async () => {
    const clock = new FakeClock()
    const sim = await simulator({ clock, neverFinishRate: 1 })
    const id = await submit(sim)
    clock.advance(2 * 60 * MINUTE)
    const stalled = await status(sim, id)
    clock.advance(48 * 60 * MINUTE)
    const later = await status(sim, id)
    expect({ ...later, billed_gpu_seconds: 0 }).toEqual({ ...stalled, billed_gpu_seconds: 0 })
    // The GPUs stay held: 48 more hours of one GPU.
    expect(later.billed_gpu_seconds! - stalled.billed_gpu_seconds!).toBeCloseTo(48 * 3600, 0)
    expect(stalled).toMatchObject({ status: 'running', stage: 'training' })
    expect(stalled.metrics).toMatchObject({ gpu_utilization: 0, throughput: 0 })
  })

  it('draws job fates from the seed, near the requested share', async () => {
    const clock = new FakeClock()
    const sim = await simulator({ clock, jobFailRate: 0.3 })
    const ids: string[] = []
    for (let i = 0; i < 60; i++) {
      ids.push(await submit(sim, jobRequest({ job_id: `00000000-0000-0000-0000-${String(i).padStart(12, '0')}` })))
    }
    clock.advance(5 * 60 * MINUTE)
    const outcomes = await Promise.all(ids.map(async (id) => (await status(sim, id)).status))
    const failed = outcomes.filter((s) => s === 'failed').length
    expect(failed).toBeGreaterThan(8)
    expect(failed).toBeLessThan(30)
    expect(outcomes.filter((s) => s === 'completed').length).toBe(60 - failed)
  })
})

describe('simulator API', () => {
  it('cancels an active job, freezing its progress, and leaves a finished one alone', async () => {
    const clock = new FakeClock()
    const sim = await simulator({ clock })
    const id = await submit(sim)
    clock.advance(20 * MINUTE)
    const before = await status(sim, id)
    expect((await call(sim, 'POST', `/training/cancel/${id}`)).json).toEqual({ external_job_id: id, status: 'cancelled', billed_gpu_seconds: before.billed_gpu_seconds })
    clock.advance(10 * MINUTE)
    const after = await status(sim, id)
    // Billing stops at the cancel.
    expect(after).toMatchObject({ status: 'cancelled', stage: 'cancelled', progress: before.progress, current_step: before.current_step, billed_gpu_seconds: before.billed_gpu_seconds })

    const other = await submit(sim, jobRequest({ job_id: '9d1e2f3a-4b5c-4d6e-8f7a-8b9c0d1e2f3a' }))
    clock.advance(3 * 60 * MINUTE)
    expect((await call(sim, 'POST', `/training/cancel/${other}`)).json).toMatchObject({ external_job_id: other, status: 'completed' })
  })

  it('lists all jobs, or only the active ones', async () => {
    const clock = new FakeClock()
    const sim = await simulator({ clock })
    const first = await submit(sim)
    const second = await submit(sim, jobRequest({ job_id: '9d1e2f3a-4b5c-4d6e-8f7a-8b9c0d1e2f3a' }))
    await call(sim, 'POST', `/training/cancel/${first}`)
    const all = (await call(sim, 'GET', '/training/jobs')).json.jobs as { external_job_id: string; status: string }[]
    expect(all.map((j) => [j.external_job_id, j.status])).toEqual([
      [first, 'cancelled'],
      [second, 'queued'],
    ])
    const active = (await call(sim, 'GET', '/training/jobs?active=true')).json.jobs as { external_job_id: string }[]
    expect(active.map((j) => j.external_job_id)).toEqual([second])
  })

  it('counts submissions per idempotency key and refuses a key that is not the job id', async () => {
    const sim = await simulator()
    const first = await call(sim, 'POST', '/training/submit', jobRequest(), { 'idempotency-key': JOB_ID })
    const again = await call(sim, 'POST', '/training/submit', jobRequest(), { 'idempotency-key': JOB_ID })
    expect(first.status).toBe(201)
    expect(again.status).toBe(200)
    expect(again.json).toEqual(first.json)
    expect(sim.submissions(JOB_ID)).toBe(2)
    expect((await call(sim, 'POST', '/training/submit', jobRequest())).json).toEqual({ error: 'the Idempotency-Key header is required' })
    const mismatch = await call(sim, 'POST', '/training/submit', jobRequest(), { 'idempotency-key': 'other' })
    expect(mismatch.status).toBe(400)
    expect(sim.submissions(JOB_ID)).toBe(2)
  })

  it('answers bad requests with 400, unknown jobs with 404, wrong methods with 405', async () => {
    const sim = await simulator()
    const headers = { 'idempotency-key': JOB_ID }
    const missing = await call(sim, 'POST', '/training/submit', { ...jobRequest(), job_id: undefined }, headers)
    expect(missing).toMatchObject({ status: 400, json: { error: 'invalid submission: field "job_id" is missing' } })
    expect((await call(sim, 'POST', '/training/submit', '{"job_id":', headers)).json).toEqual({ error: 'the body is not valid JSON' })
    const epochs = await call(sim, 'POST', '/training/submit', jobRequest({ hyperparameters: { num_epochs: 0.5 } }), headers)
    expect(epochs.status).toBe(400)
    expect((await call(sim, 'GET', '/training/status/sim-nope')).status).toBe(404)
    expect((await call(sim, 'POST', '/training/cancel/sim-nope')).status).toBe(404)
    expect((await call(sim, 'GET', '/training/submit')).status).toBe(405)
    expect((await call(sim, 'GET', '/nothing')).status).toBe(404)
    expect(sim.submissions(JOB_ID)).toBe(0)
  })

  it('requires the bearer key when one is set', async () => {
    const sim = await simulator({ apiKey: 'sk-sim' })
    expect((await call(sim, 'GET', '/training/jobs')).status).toBe(401)
    expect((await call(sim, 'GET', '/training/jobs', undefined, { authorization: 'Bearer nope' })).status).toBe(401)
    expect((await call(sim, 'GET', '/training/jobs', undefined, { authorization: 'Bearer sk-sim' })).status).toBe(200)
  })

  it('serves the artifacts of a completed job behind their token', async () => {
    const clock = new FakeClock()
    const sim = await simulator({ clock })
    const id = await submit(sim)
    const early = await status(sim, id)
    expect(early.artifacts).toBeUndefined()
    clock.advance(3 * 60 * MINUTE)
    const { artifacts } = await status(sim, id)
    expect(artifacts).toBeDefined()
    expect(artifacts!.adapter_url).toMatch(new RegExp(`^${sim.url}/artifacts/${id}/adapter\\.safetensors\\?token=[0-9a-f]{32}$`))

    const adapter = Buffer.from(await (await fetch(artifacts!.adapter_url)).arrayBuffer())
    expect(adapter.length).toBe(artifacts!.adapter_size)
    const headerLength = Number(adapter.readBigUInt64LE(0))
    const header = JSON.parse(adapter.subarray(8, 8 + headerLength).toString('utf8')) as Record<string, { data_offsets?: number[] }>
    const tensorEnd = Math.max(...Object.values(header).flatMap((t) => t.data_offsets ?? []))
    expect(8 + headerLength + tensorEnd).toBe(adapter.length)

    for (const image of artifacts!.validation_images) {
      const response = await fetch(image.url)
      expect(response.headers.get('content-type')).toBe('image/jpeg')
      const bytes = Buffer.from(await response.arrayBuffer())
      expect(bytes.length).toBe(image.size)
      expect([...bytes.subarray(0, 2)]).toEqual([0xff, 0xd8])
      expect([...bytes.subarray(-2)]).toEqual([0xff, 0xd9])
    }
    const [first, second] = artifacts!.validation_images
    const download = async (url: string) => Buffer.from(await (await fetch(url)).arrayBuffer())
    expect((await download(first!.url)).equals(await download(second!.url))).toBe(false)

    expect((await fetch(artifacts!.adapter_url.replace(/\?.*$/, ''))).status).toBe(403)
  })

  it('keeps its jobs, submissions and start times in the state file across a restart', async () => {
    const dir = await temporaryDir()
    const stateFile = join(dir, 'cluster.json')
    const clock = new FakeClock()
    const first = await startSimulator({ clock, seed: 42, stateFile })
    const id = await submit(first)
    await submit(first)
    const cancelledId = await submit(first, jobRequest({ job_id: '9d1e2f3a-4b5c-4d6e-8f7a-8b9c0d1e2f3a' }))
    clock.advance(20 * MINUTE)
    await call(first, 'POST', `/training/cancel/${cancelledId}`)
    const before = { job: await status(first, id), cancelled: await status(first, cancelledId) }
    await first.close()

    const saved = await readFile(stateFile, 'utf8')
    expect(saved).not.toContain('SIGNED-SECRET')
    expect(await readdir(dir)).toEqual(['cluster.json'])

    // Restarted with another seed: jobs keep the seed they were planned with.
    const second = await simulator({ clock, seed: 7, stateFile })
    expect(second.port).not.toBe(0)
    expect(await status(second, id)).toEqual(before.job)
    expect(await status(second, cancelledId)).toEqual(before.cancelled)
    expect(second.submissions(JOB_ID)).toBe(2)
    const listed = (await call(second, 'GET', '/training/jobs')).json.jobs as { started_at: string }[]
    expect(listed.map((j) => j.started_at)).toEqual([new FakeClock().now().toISOString(), new FakeClock().now().toISOString()])
    clock.advance(3 * 60 * MINUTE)
    expect((await status(second, id)).status).toBe('completed')
  })

  it('has an acknowledged submit or cancel in its state file before it answers: a kill -9 right after loses neither', async () => {
    const dir = await temporaryDir()
    const stateFile = join(dir, 'cluster.json')
    const sim = await simulator({ stateFile })
    const saved = async () => JSON.parse(await readFile(stateFile, 'utf8')) as { jobs: { external_job_id: string; cancelled_after_ms?: number }[] }
    const id = await submit(sim)
    // Read at once, as a replacement started after a kill -9 would (no close, no flush).
    expect((await saved()).jobs.map((j) => j.external_job_id)).toEqual([id])
    await call(sim, 'POST', `/training/cancel/${id}`)
    expect((await saved()).jobs).toEqual([expect.objectContaining({ external_job_id: id, cancelled_after_ms: 0 })])
  })

  it('refuses a state file that is not simulator state', async () => {
    const dir = await temporaryDir()
    const stateFile = join(dir, 'cluster.json')
    await writeFile(stateFile, '{"jobs": 3}')
    await expect(startSimulator({ stateFile })).rejects.toThrow(LoraError)
    await expect(startSimulator({ stateFile })).rejects.toThrow(/does not hold simulator state/)
  })

  it('releases hung sockets when it closes', async () => {
    const sim = await startSimulator({ hangRate: 1 })
    const pending = fetch(`${sim.url}/training/jobs`).then(
      () => 'answered',
      () => 'dropped',
    )
    await vi.waitFor(() => expect(sim.requests()).toBe(1), { timeout: 10_000, interval: 2 })
    const started = performance.now()
    await sim.close()
    expect(performance.now() - started).toBeLessThan(1_000)
    expect(await pending).toBe('dropped')
  })

  it('adds the configured latency to every call', async () => {
    const sim = await simulator({ latencyMs: 120 })
    const started = performance.now()
    await call(sim, 'GET', '/training/jobs')
    // A lower bound only: a timer never fires 10 ms early, however loaded the machine.
    expect(performance.now() - started).toBeGreaterThanOrEqual(110)
    // A call made under an hour of latency is still unanswered when a call made after
    // the latency is set back to 0 has its answer: an order, not a stopwatch.
    sim.setFaults({ latencyMs: 60 * MINUTE })
    const held = fetch(`${sim.url}/training/jobs`).then(
      () => 'answered',
      () => 'dropped',
    )
    await vi.waitFor(() => expect(sim.requests()).toBe(2), { timeout: 10_000, interval: 2 })
    sim.setFaults({ latencyMs: 0 })
    const quick = await call(sim, 'GET', '/training/jobs')
    expect(quick.status).toBe(200)
    expect(quick.json).toEqual({ jobs: [] })
    expect(await Promise.race([held, Promise.resolve('waiting')])).toBe('waiting')
    await sim.close()
    expect(await held).toBe('dropped')
  })

  it('rejects fault rates outside 0..1', async () => {
    await expect(startSimulator({ failRate: 2 })).rejects.toThrow(/failRate must be between 0 and 1/)
    const sim = await simulator()
    expect(() => sim.setFaults({ hangRate: -1 })).toThrow(/hangRate/)
  })
})

describe('simulated training logs', () => {
  const withStats = (overrides: Partial<SubmitRequest> = {}) =>
    jobRequest({ hyperparameters: { num_epochs: 2, batch_size: 8, lora_rank: 16, lora_alpha: 32 }, dataset_stats: { training_pairs: 400, tokens: 900_000 }, ...overrides })
  const logs = async (sim: Simulator, id: string, after?: string) => {
    const response = await call(sim, 'GET', `/training/logs/${id}${after === undefined ? '' : `?after=${after}`}`)
    expect(response.status).toBe(200)
    return response.json as { lines: { ts: string; text: string }[]; cursor: string }
  }

  it('writes setup, each epoch\'s loss and the end of the run as it happens, stamped in real time, read on from a cursor', async () => {
    const clock = new FakeClock('2026-03-10T12:00:00Z')
    const sim = await simulator({ clock, speed: 60 })
    const id = await submit(sim, withStats())
    const first = await logs(sim, id)
    expect(first).toEqual({ lines: [{ ts: '2026-03-10T12:00:00.000Z', text: 'job accepted: 1x A100-80GB requested, waiting for GPUs' }], cursor: '1' })
    clock.advance(MINUTE)
    const later = await logs(sim, id, first.cursor)
    clock.advance(10 * MINUTE)
    const rest = await logs(sim, id, later.cursor)
    expect(await logs(sim, id, rest.cursor)).toEqual({ lines: [], cursor: rest.cursor })
    const all = [...first.lines, ...later.lines, ...rest.lines]
    const texts = all.map((l) => l.text)
    expect(texts).toContain('dataset downloaded: 400 training pairs, 900,000 tokens')
    expect(texts).toContain('LoRA adapter: rank 16, alpha 32, dropout 0.05, target modules q_proj, k_proj, v_proj, o_proj')
    expect(texts).toContain('trainable params: 13,631,488 || all params: 7,255,363,584 || trainable%: 0.1879')
    expect(texts).toContain('training: 2 epochs x 50 steps, batch size 8, learning rate 0.0002, 5 warmup steps')
    expect(texts.filter((t) => /^epoch 1\/2 step [\d,]+\/100: loss \d\.\d{4}, lr \d\.\d{2}e-\d, grad_norm \d\.\d{3}, [\d,]+ tokens\/s$/.test(t))).toHaveLength(10)
    expect(texts.filter((t) => /^epoch \d\/2 done: training loss \d\.\d{4}, validation loss \d\.\d{4}$/.test(t))).toHaveLength(2)
    expect(texts.at(-1)).toBe('run complete: adapter and 3 validation images uploaded; GPUs released')
    // Stamped when written: simulated time over the speed, so the last line comes when the run completes.
    const stamps = all.map((l) => Date.parse(l.ts))
    expect(stamps).toEqual([...stamps].sort((a, b) => a - b))
    const plan = planJob(withStats(), 42, 'complete')
    expect(Math.abs(stamps.at(-1)! - Date.parse('2026-03-10T12:00:00Z') - plannedDurationMs(plan) / 60)).toBeLessThanOrEqual(1)
    expect((await status(sim, id)).status).toBe('completed')
  })

  it('ends a failed run with its cause, labelled as injected, as its status says it', async () => {
    const clock = new FakeClock()
    const sim = await simulator({ clock, jobFailRate: 1 })
    const id = await submit(sim, withStats())
    clock.advance(3 * 60 * MINUTE)
    const failed = await status(sim, id)
    expect(failed.error_message).toMatch(/^injected failure: /)
    const { lines } = await logs(sim, id)
    expect(lines.slice(-2).map((l) => l.text)).toEqual([`error at step ${failed.current_step}/100: ${failed.error_message}`, 'the run failed; GPUs released'])
  })

  it('stops a cancelled run\'s log at the cancel, and refuses a cursor it did not give', async () => {
    const clock = new FakeClock()
    const sim = await simulator({ clock })
    const id = await submit(sim, withStats())
    clock.advance(10 * MINUTE)
    await call(sim, 'POST', `/training/cancel/${id}`)
    clock.advance(60 * MINUTE)
    const { lines } = await logs(sim, id)
    expect(lines.at(-1)!.text).toBe('cancel requested: the run was stopped; GPUs released')
    expect(lines.some((l) => l.text.startsWith('run complete'))).toBe(false)
    expect((await call(sim, 'GET', `/training/logs/${id}?after=abc`)).json).toEqual({ error: 'after must be a cursor this cluster gave' })
    expect((await call(sim, 'GET', '/training/logs/sim-unknown')).status).toBe(404)
  })

  it('answers 404 as a cluster without the optional logs endpoint when told to', async () => {
    const sim = await simulator({ omitLogs: true })
    const id = await submit(sim, withStats())
    expect(await call(sim, 'GET', `/training/logs/${id}`)).toMatchObject({ status: 404, json: { error: `no such endpoint: GET /training/logs/${id}` } })
  })
})
