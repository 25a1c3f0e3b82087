import { randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { afterEach, describe, expect, it } from 'vitest'
import { FakeClock } from '../../src/clock.js'
import { ClusterError, createClusterClient, type ClusterClient } from '../../src/cluster/client.js'
import type { SubmitRequest } from '../../src/cluster/contract.js'
import { startSimulator, type Simulator, type SimulatorOptions } from '../../src/cluster/simulator.js'
import type { ClusterConfig } from '../../src/config/schema.js'
import { LoraError } from '../../src/errors.js'

const API_KEY = 'sk-test-4f1c9a7e2b'
const SIGNED_DATASET = 'https://storage.example.com/object/sign/lora-datasets/u1/data.jsonl?token=SIGNED-SECRET'

const cleanups: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
})

async function simulator(options: SimulatorOptions = {}): Promise<Simulator> {
  const sim = await startSimulator({ clock: new FakeClock(), seed: 1, ...options })
  cleanups.push(() => sim.close())
  return sim
}

function client(url: string, clock: FakeClock, overrides: Partial<ClusterConfig> = {}, random?: () => number): ClusterClient {
  const config: ClusterConfig = { name: 'primary', url, connectTimeoutMs: 1_000, requestTimeoutMs: 2_000, ...overrides }
  const created = createClusterClient(config, { clock, random })
  cleanups.push(() => created.close())
  return created
}

function jobRequest(overrides: Partial<SubmitRequest> = {}): SubmitRequest {
  return {
    job_id: randomUUID(),
    dataset_url: SIGNED_DATASET,
    hyperparameters: { num_epochs: 3, learning_rate: 2e-4, batch_size: 4, lora_rank: 16 },
    gpu_config: { gpu_type: 'A100-80GB', num_gpus: 1, cost_per_gpu_hour: 3.5 },
    ...overrides,
  }
}

/**
 * Runs a call to its end while moving the client's fake clock through each backoff
 * wait as soon as it is requested; the HTTP round trips themselves run in real time.
 */
async function settle<T>(clock: FakeClock, call: Promise<T>, onSleep?: (sleepIndex: number) => void): Promise<T> {
  let done = false
  const tracked = call.finally(() => {
    done = true
  })
  tracked.catch(() => undefined)
  let handled = 0
  while (!done) {
    await new Promise((resolve) => setTimeout(resolve, 2))
    if (clock.pending > 0) {
      onSleep?.(handled)
      handled += 1
      clock.advance(clock.sleeps.at(-1) ?? 0)
    }
  }
  return tracked
}

async function failure(promise: Promise<unknown>): Promise<ClusterError> {
  const error = await promise.then(
    () => {
      throw new Error('expected the call to fail')
    },
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(ClusterError)
  expect(error).toBeInstanceOf(LoraError)
  return error as ClusterError
}

/** A one-off server for answers the simulator never gives. */
async function fixedServer(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<string> {
  const server = createServer((req, res) => {
    req.resume()
    handler(req, res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  cleanups.push(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  )
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' })
  res.end(JSON.stringify(body))
}

describe('cluster client against the simulator', () => {
  it('speaks every call of the contract', async () => {
    const simClock = new FakeClock()
    const sim = await simulator({ clock: simClock })
    const clock = new FakeClock()
    const cluster = client(sim.url, clock)
    const request = jobRequest()

    const { external_job_id: id } = await cluster.submit(request)
    expect(id).toMatch(/^sim-[0-9a-f]{16}$/)
    const queued = await cluster.status(id)
    expect(queued).toMatchObject({ status: 'queued', progress: 0, current_epoch: 0, current_step: 0, stage: 'queued', total_epochs: 3 })

    simClock.advance(20 * 60_000)
    const running = await cluster.status(id)
    expect(running.status).toBe('running')
    expect(running.stage).toBe('training')
    expect(running.progress).toBeGreaterThan(0)
    expect(running.progress).toBeLessThan(95)
    expect(running.metrics?.training_loss).toBeGreaterThan(0)

    const other = await cluster.submit(jobRequest())
    expect((await cluster.listJobs()).map((j) => j.external_job_id).sort()).toEqual([id, other.external_job_id].sort())
    const active = await cluster.listJobs({ active: true })
    expect(active.find((j) => j.external_job_id === id)).toMatchObject({ job_id: request.job_id, status: 'running' })
    expect(active[0]?.started_at).toBe(new FakeClock().now().toISOString())

    expect(await cluster.cancel(id)).toEqual({ external_job_id: id, status: 'cancelled', billed_gpu_seconds: expect.any(Number) })
    expect((await cluster.status(id)).status).toBe('cancelled')
    expect((await cluster.listJobs({ active: true })).map((j) => j.external_job_id)).toEqual([other.external_job_id])

    // The client's clock stood still through the call: the latency it reports is
    // measured on that clock, not on the wall.
    expect(await cluster.ping()).toBe(0)
    expect(cluster.name).toBe('primary')
  })

  it('pings with the active-jobs list, timed on the injected clock, and never retries', async () => {
    const clock = new FakeClock()
    const seen: string[] = []
    let answer = 200
    const url = await fixedServer((req, res) => {
      seen.push(`${req.method} ${req.url}`)
      // Time passes on the client's clock while the cluster thinks.
      clock.advance(1_234)
      json(res, answer, answer === 200 ? { jobs: [] } : { error: 'down' })
    })
    const cluster = client(url, clock)
    expect(await cluster.ping()).toBe(1_234)
    expect(seen).toEqual(['GET /training/jobs?active=true'])
    answer = 503
    const error = await failure(cluster.ping())
    expect(error).toMatchObject({ kind: 'http_5xx', status: 503, attempts: 1 })
    expect(clock.sleeps).toEqual([])
    expect(seen).toHaveLength(2)
  })

  it('reuses kept-alive connections across sequential calls', async () => {
    const sim = await simulator()
    const cluster = client(sim.url, new FakeClock())
    const { external_job_id: id } = await cluster.submit(jobRequest())
    for (let i = 0; i < 20; i++) await cluster.status(id)
    expect(sim.requests()).toBe(21)
    // undici's pool may open a second socket when a call follows the previous one
    // before it has released its connection; without keep-alive this would be 21.
    expect(sim.connections()).toBeLessThanOrEqual(2)
  })

  it('works under a base URL with a trailing slash', async () => {
    const sim = await simulator()
    const cluster = client(`${sim.url}/`, new FakeClock())
    expect(await cluster.listJobs()).toEqual([])
  })

  it('resubmitting a job returns the same external id and the simulator counts both', async () => {
    const sim = await simulator()
    const cluster = client(sim.url, new FakeClock())
    const request = jobRequest()
    const first = await cluster.submit(request)
    const second = await cluster.submit(request)
    expect(second.external_job_id).toBe(first.external_job_id)
    expect(sim.submissions(request.job_id)).toBe(2)
    expect(sim.submissions(randomUUID())).toBe(0)
    expect(await cluster.listJobs()).toHaveLength(1)
  })
})

describe('retries', () => {
  it('retries a 503 after 2 s, 4 s and 8 s plus jitter, then fails as http_5xx', async () => {
    const sim = await simulator({ failRate: 1 })
    const clock = new FakeClock()
    const cluster = client(sim.url, clock)
    const error = await failure(settle(clock, cluster.listJobs()))
    expect(error.kind).toBe('http_5xx')
    expect(error.status).toBe(503)
    expect(error.attempts).toBe(4)
    expect(error.countsAgainstCluster).toBe(true)
    expect(error.endpoint).toBe('GET /training/jobs')
    expect(error.message).toBe('GPU cluster "primary" answered GET /training/jobs with HTTP 503: injected failure: the cluster is overloaded, try again later (4 attempts).')
    expect(sim.requests()).toBe(4)
    expect(clock.sleeps).toHaveLength(3)
    for (const [i, base] of [2_000, 4_000, 8_000].entries()) {
      expect(clock.sleeps[i]).toBeGreaterThanOrEqual(base)
      expect(clock.sleeps[i]).toBeLessThanOrEqual(base * 1.25)
    }
  })

  it('adds jitter from the injected source', async () => {
    const sim = await simulator({ failRate: 1 })
    const none = new FakeClock()
    await failure(settle(none, client(sim.url, none, {}, () => 0).listJobs()))
    expect(none.sleeps).toEqual([2_000, 4_000, 8_000])
    const most = new FakeClock()
    await failure(settle(most, client(sim.url, most, {}, () => 0.999).listJobs()))
    expect(most.sleeps).toEqual([2_500, 4_999, 9_998])
  })

  it('succeeds when the cluster recovers during the backoff', async () => {
    const sim = await simulator({ failRate: 1 })
    const clock = new FakeClock()
    const cluster = client(sim.url, clock)
    const jobs = await settle(clock, cluster.listJobs(), (sleep) => {
      if (sleep === 1) sim.setFaults({ failRate: 0 })
    })
    expect(jobs).toEqual([])
    expect(sim.requests()).toBe(3)
    expect(clock.sleeps).toHaveLength(2)
  })

  it('honours Retry-After in seconds on a 429', async () => {
    const sim = await simulator({ rateLimitRate: 1, retryAfter: 7 })
    const clock = new FakeClock()
    const error = await failure(settle(clock, client(sim.url, clock).listJobs({ active: true })))
    expect(error.kind).toBe('rate_limited')
    expect(error.status).toBe(429)
    expect(error.countsAgainstCluster).toBe(true)
    expect(error.endpoint).toBe('GET /training/jobs?active=true')
    expect(clock.sleeps).toEqual([7_000, 7_000, 7_000])
  })

  it('honours Retry-After as an HTTP date on a 503', async () => {
    const clock = new FakeClock()
    const sim = await simulator({ failRate: 1, retryAfter: new Date(clock.now().getTime() + 12_000).toUTCString() })
    const error = await failure(settle(clock, client(sim.url, clock).listJobs()))
    expect(error.kind).toBe('http_5xx')
    // The date is absolute: once the clock has reached it, the next waits are zero.
    expect(clock.sleeps).toEqual([12_000, 0, 0])
  })

  it('does not wait inside the call for a Retry-After longer than a minute', async () => {
    const sim = await simulator({ rateLimitRate: 1, retryAfter: 3600 })
    const clock = new FakeClock()
    const error = await failure(settle(clock, client(sim.url, clock).listJobs()))
    expect(error.kind).toBe('rate_limited')
    expect(error.attempts).toBe(1)
    expect(error.retryAfterMs).toBe(3_600_000)
    expect(error.message).toContain('asked us to wait 1h')
    expect(clock.sleeps).toEqual([])
  })

  it('stops waiting when the signal aborts', async () => {
    const sim = await simulator({ failRate: 1 })
    const clock = new FakeClock()
    const controller = new AbortController()
    const call = client(sim.url, clock).listJobs({}, { signal: controller.signal })
    while (clock.pending === 0) await new Promise((resolve) => setTimeout(resolve, 2))
    controller.abort(new Error('stop'))
    await expect(call).rejects.toThrow('stop')
    expect(sim.requests()).toBe(1)
  })
})

describe('faults become ClusterErrors', () => {
  it('names the field of a malformed answer and does not retry it', async () => {
    const sim = await simulator({ malformedStyle: 'field' })
    const clock = new FakeClock()
    const cluster = client(sim.url, clock)
    const { external_job_id: id } = await cluster.submit(jobRequest())
    sim.setFaults({ malformedRate: 1 })
    const error = await failure(settle(clock, cluster.status(id)))
    expect(error.kind).toBe('malformed')
    expect(error.countsAgainstCluster).toBe(true)
    expect(error.attempts).toBe(1)
    expect(error.message).toBe(
      `GPU cluster "primary" sent a malformed answer to GET /training/status/${id}: field "progress" expected number, got string.`,
    )
    expect(sim.requests()).toBe(2)
  })

  it('says so when the answer is HTML', async () => {
    const sim = await simulator({ malformedRate: 1, malformedStyle: 'html' })
    const clock = new FakeClock()
    const error = await failure(settle(clock, client(sim.url, clock).listJobs()))
    expect(error.kind).toBe('malformed')
    expect(error.message).toBe('GPU cluster "primary" sent a malformed answer to GET /training/jobs: HTML instead of JSON (HTTP 200).')
  })

  it('says so when the JSON is cut short', async () => {
    const sim = await simulator({ malformedRate: 1, malformedStyle: 'truncated' })
    const clock = new FakeClock()
    const error = await failure(settle(clock, client(sim.url, clock).submit(jobRequest())))
    expect(error.kind).toBe('malformed')
    expect(error.message).toContain('POST /training/submit: the body is not valid JSON')
  })

  it('times out a hung call within the request timeout, on every attempt', async () => {
    const sim = await simulator({ hangRate: 1 })
    const clock = new FakeClock()
    const cluster = client(sim.url, clock, { requestTimeoutMs: 200 })
    const started = performance.now()
    const error = await failure(settle(clock, cluster.listJobs()))
    const elapsed = performance.now() - started
    expect(error.kind).toBe('timeout')
    expect(error.countsAgainstCluster).toBe(true)
    expect(error.attempts).toBe(4)
    expect(error.message).toBe('GPU cluster "primary" did not answer GET /training/jobs within 200ms (4 attempts).')
    expect(elapsed).toBeGreaterThanOrEqual(4 * 190)
    expect(elapsed).toBeLessThan(4 * 200 + 1_500)
  })

  it('retries a submit whose answer was lost under the same key, creating one job', async () => {
    const sim = await simulator({ hangRate: 1 })
    const clock = new FakeClock()
    const cluster = client(sim.url, clock, { requestTimeoutMs: 200 })
    const request = jobRequest()
    const { external_job_id: id } = await settle(clock, cluster.submit(request), () => sim.setFaults({ hangRate: 0 }))
    expect(sim.submissions(request.job_id)).toBe(2)
    expect((await cluster.listJobs()).map((j) => j.external_job_id)).toEqual([id])
  })

  it('reports a refused connection as a network error after retrying', async () => {
    const closed = await startSimulator()
    const url = closed.url
    await closed.close()
    const clock = new FakeClock()
    const error = await failure(settle(clock, client(url, clock).status('sim-1')))
    expect(error.kind).toBe('network')
    expect(error.countsAgainstCluster).toBe(true)
    expect(error.attempts).toBe(4)
    expect(error.message).toBe('GPU cluster "primary" could not be reached for GET /training/status/sim-1: connection refused (4 attempts).')
    expect(clock.sleeps).toHaveLength(3)
  })

  it('treats a 401 as our configuration problem: unauthorized, not retried, not counted', async () => {
    const sim = await simulator({ apiKey: API_KEY })
    const clock = new FakeClock()
    expect(await client(sim.url, clock, { apiKey: API_KEY }).listJobs()).toEqual([])

    const wrong = await failure(settle(clock, client(sim.url, clock, { apiKey: 'sk-wrong-0000' }).listJobs()))
    expect(wrong.kind).toBe('unauthorized')
    expect(wrong.status).toBe(401)
    expect(wrong.countsAgainstCluster).toBe(false)
    expect(wrong.attempts).toBe(1)
    expect(wrong.message).not.toContain('sk-wrong-0000')
    expect(wrong.hint).toContain('clusters.primary.apiKey')

    const missing = await failure(settle(clock, client(sim.url, clock).listJobs()))
    expect(missing.kind).toBe('unauthorized')
    expect(missing.hint).toContain('set clusters.primary.apiKey')
    expect(sim.requests()).toBe(3)
    expect(clock.sleeps).toEqual([])
  })

  it('does not retry a 400 nor count it against the cluster', async () => {
    const sim = await simulator()
    const clock = new FakeClock()
    const cluster = client(sim.url, clock)
    const error = await failure(settle(clock, cluster.submit(jobRequest({ gpu_config: { gpu_type: 'H100', num_gpus: 64 } }))))
    expect(error.kind).toBe('client_error')
    expect(error.status).toBe(400)
    expect(error.attempts).toBe(1)
    expect(error.countsAgainstCluster).toBe(false)
    expect(error.message).toBe('GPU cluster "primary" refused POST /training/submit with HTTP 400: at most 8 GPUs per job, got 64.')
    expect(sim.requests()).toBe(1)
    expect(clock.sleeps).toEqual([])
  })

  it('does not retry a 404 for an unknown job', async () => {
    const sim = await simulator()
    const clock = new FakeClock()
    const error = await failure(settle(clock, client(sim.url, clock).cancel('sim-unknown')))
    expect(error).toMatchObject({ kind: 'client_error', status: 404, attempts: 1, countsAgainstCluster: false })
    expect(error.message).toContain('POST /training/cancel/sim-unknown with HTTP 404')
    expect(sim.requests()).toBe(1)
  })

  it('refuses to send a request that breaks the contract', async () => {
    const sim = await simulator()
    const clock = new FakeClock()
    const error = await failure(client(sim.url, clock).submit(jobRequest({ dataset_url: 'not a url' })))
    expect(error).toMatchObject({ kind: 'client_error', attempts: 0, countsAgainstCluster: false })
    expect(error.message).toContain('field "dataset_url"')
    expect(sim.requests()).toBe(0)
  })
})

describe('answers the simulator never gives', () => {
  it('rejects an unknown status string as malformed', async () => {
    const url = await fixedServer((_req, res) =>
      json(res, 200, { status: 'exploded', progress: 10, current_epoch: 1, current_step: 5, stage: 'training' }),
    )
    const clock = new FakeClock()
    const error = await failure(settle(clock, client(url, clock).status('x')))
    expect(error.kind).toBe('malformed')
    expect(error.message).toBe(
      'GPU cluster "primary" sent a malformed answer to GET /training/status/x: field "status" expected one of queued, initializing, running, completed, failed, cancelled, got "exploded".',
    )
  })

  it('rejects a completed status without artifacts', async () => {
    const url = await fixedServer((_req, res) =>
      json(res, 200, { status: 'completed', progress: 100, current_epoch: 3, current_step: 30, stage: 'completed' }),
    )
    const clock = new FakeClock()
    const error = await failure(settle(clock, client(url, clock).status('x')))
    expect(error.message).toContain('field "artifacts" is required when status is "completed"')
  })

  it('names a missing nested field', async () => {
    const url = await fixedServer((_req, res) =>
      json(res, 200, {
        status: 'running',
        progress: 10,
        current_epoch: 1,
        current_step: 5,
        stage: 'training',
        metrics: { training_loss: 1.2, learning_rate: 0.0001, gpu_utilization: 90 },
      }),
    )
    const clock = new FakeClock()
    const error = await failure(settle(clock, client(url, clock).status('x')))
    expect(error.message).toContain('field "metrics.throughput" is missing')
  })

  it('keeps the API key and signed URL tokens out of messages', async () => {
    const url = await fixedServer((_req, res) =>
      json(res, 422, { error: `key ${API_KEY} may not read https://storage.example.com/a.jsonl?token=SIGNED-SECRET` }),
    )
    const clock = new FakeClock()
    const error = await failure(settle(clock, client(url, clock, { apiKey: API_KEY }).submit(jobRequest())))
    expect(error.kind).toBe('client_error')
    expect(error.message).not.toContain(API_KEY)
    expect(error.message).not.toContain('SIGNED-SECRET')
    expect(error.message).toContain('https://storage.example.com/a.jsonl?***')
  })

  it('sends the bearer key, the idempotency key and the path prefix of the base URL', async () => {
    const seen: { url?: string; authorization?: string; key?: string; type?: string }[] = []
    const url = await fixedServer((req, res) => {
      seen.push({
        url: req.url,
        authorization: req.headers.authorization,
        key: req.headers['idempotency-key'] as string | undefined,
        type: req.headers['content-type'],
      })
      json(res, 200, { external_job_id: 'ext-1' })
    })
    const clock = new FakeClock()
    const request = jobRequest()
    expect(await client(`${url}/api/v1`, clock, { apiKey: API_KEY }).submit(request)).toEqual({ external_job_id: 'ext-1' })
    expect(seen).toEqual([
      { url: '/api/v1/training/submit', authorization: `Bearer ${API_KEY}`, key: request.job_id, type: 'application/json' },
    ])
  })

  it('retries a 502 with an HTML body and reports http_5xx', async () => {
    let calls = 0
    const url = await fixedServer((_req, res) => {
      calls += 1
      res.writeHead(502, { 'content-type': 'text/html' })
      res.end('<html><body>Bad Gateway</body></html>')
    })
    const clock = new FakeClock()
    const error = await failure(settle(clock, client(url, clock).listJobs()))
    expect(error).toMatchObject({ kind: 'http_5xx', status: 502, attempts: 4 })
    expect(error.message).toBe('GPU cluster "primary" answered GET /training/jobs with HTTP 502 (4 attempts).')
    expect(calls).toBe(4)
  })

  it('refuses a base URL that is not http', () => {
    expect(() =>
      createClusterClient({ name: 'primary', url: 'ftp://user:pw@host', connectTimeoutMs: 1, requestTimeoutMs: 1 }, { clock: new FakeClock() }),
    ).toThrow(/clusters\.primary\.url is not an http or https URL\.$/)
  })
})
