import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'
import { systemClock, type Clock } from '../clock.js'
import { UsageError } from '../errors.js'
import { HttpProblem, SimulatedJobs } from './simulator-jobs.js'
import { INJECTED, mulberry32 } from './simulator-model.js'

/**
 * A GPU cluster on loopback that speaks exactly the contract of contract.ts: the
 * cluster of the embedded profile, of the demo and of the tests. It is a server, so
 * unlike domain code it uses real timers for latency, debouncing and hangs; training
 * time comes from the injected clock.
 */

export interface SimulatorFaults {
  /** Share of API calls answered with 503. */
  failRate: number
  /** Share of API calls answered with 429. */
  rateLimitRate: number
  /** Retry-After sent with those 503 and 429 answers: seconds, or an HTTP date. */
  retryAfter?: number | string
  /** Delay added to every API call, in real ms. */
  latencyMs: number
  /** Share of successful answers whose body breaks the contract. */
  malformedRate: number
  malformedStyle: 'mixed' | 'field' | 'html' | 'truncated'
  /**
   * Share of API calls that are carried out but never answered: the socket is held
   * until the client gives up, as when a response is lost (a hung submit still
   * creates its job, which is what idempotency keys are for).
   */
  hangRate: number
  /** Share of new jobs that end failed. */
  jobFailRate: number
  /** Share of new jobs that stall and never finish. */
  neverFinishRate: number
  /** Cancel calls each job acknowledges but ignores before obeying one. */
  cancelResistance: number
  /** Answer as a cluster that does not report billed GPU time (no billed_gpu_seconds). */
  omitBilling?: boolean
  /** Answer as a cluster without the optional logs endpoint (404). */
  omitLogs?: boolean
}

export interface SimulatorOptions extends Partial<SimulatorFaults> {
  /** 0, the default, picks a free port. */
  port?: number
  host?: string
  /** Simulated time per real time: 60 runs an hour of training in a minute. */
  speed?: number
  seed?: number
  /** Where jobs persist across restarts; none keeps them in memory only. */
  stateFile?: string
  clock?: Clock
  /** When set, API calls need `Authorization: Bearer <apiKey>`. */
  apiKey?: string
}

export interface Simulator {
  readonly url: string
  readonly port: number
  close(): Promise<void>
  /** How many submit calls were processed for this idempotency key (job id). */
  submissions(jobId: string): number
  setFaults(faults: Partial<SimulatorFaults>): void
  /** TCP connections accepted since start. */
  connections(): number
  /** HTTP requests received since start, artifact downloads included. */
  requests(): number
}

const MAX_BODY_BYTES = 1024 * 1024
const RATE_KEYS = ['failRate', 'rateLimitRate', 'malformedRate', 'hangRate', 'jobFailRate', 'neverFinishRate'] as const

const HTML_ERROR_PAGE =
  '<!DOCTYPE html>\n<html><head><title>502 Bad Gateway</title></head>\n<body><center><h1>502 Bad Gateway</h1></center><hr><center>nginx</center></body></html>\n'

interface Reply {
  status: number
  body: unknown
}

function checkFaults(faults: Partial<SimulatorFaults>): void {
  for (const key of RATE_KEYS) {
    const value = faults[key]
    if (value !== undefined && !(value >= 0 && value <= 1)) {
      throw new UsageError(`The simulator's ${key} must be between 0 and 1, got ${value}.`)
    }
  }
  if (faults.latencyMs !== undefined && !(faults.latencyMs >= 0)) {
    throw new UsageError(`The simulator's latencyMs must be 0 or more, got ${faults.latencyMs}.`)
  }
}

export async function startSimulator(options: SimulatorOptions = {}): Promise<Simulator> {
  checkFaults(options)
  const speed = options.speed ?? 1
  if (!(speed > 0)) throw new UsageError(`The simulator's speed must be above 0, got ${speed}.`)
  const seed = Math.trunc(options.seed ?? 0)
  const host = options.host ?? '127.0.0.1'
  const apiKey = options.apiKey
  const faults = faultsFrom(options)
  const faultDraw = mulberry32(seed ^ 0x5eed5eed)
  const jobs = await SimulatedJobs.open({
    clock: options.clock ?? systemClock,
    speed,
    seed,
    stateFile: options.stateFile,
    fateRates: () => faults,
    cancelResistance: () => faults.cancelResistance,
  })

  let connectionCount = 0
  let requestCount = 0
  let closing = false
  const heldSockets = new Set<Socket>()
  const latencyTimers = new Set<NodeJS.Timeout>()

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    requestCount += 1
    const url = new URL(req.url ?? '/', 'http://simulator')
    if (url.pathname.startsWith('/artifacts/')) return serveArtifact(jobs, req, res, url)

    if (faults.latencyMs > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          latencyTimers.delete(timer)
          resolve()
        }, faults.latencyMs)
        latencyTimers.add(timer)
      })
    }
    if (apiKey !== undefined && req.headers.authorization !== `Bearer ${apiKey}`) {
      req.resume()
      return sendJson(res, 401, { error: 'missing or wrong API key' })
    }
    // Every fault is drawn on every call, so that a seed gives the same sequence of
    // faults whatever the outcome of each call.
    const draws = { fail: faultDraw(), limit: faultDraw(), hang: faultDraw(), malformed: faultDraw() }
    const retryAfter: Record<string, string> = faults.retryAfter === undefined ? {} : { 'retry-after': String(faults.retryAfter) }
    if (draws.fail < faults.failRate) {
      req.resume()
      return sendJson(res, 503, { error: `${INJECTED}: the cluster is overloaded, try again later` }, retryAfter)
    }
    if (draws.limit < faults.rateLimitRate) {
      req.resume()
      return sendJson(res, 429, { error: 'too many requests' }, retryAfter)
    }
    const reply = await route(jobs, faults, req, url)
    if (draws.hang < faults.hangRate) {
      heldSockets.add(req.socket)
      req.socket.once('close', () => heldSockets.delete(req.socket))
      return
    }
    if (draws.malformed < faults.malformedRate && reply.status < 300) return sendMalformed(res, reply.body, faults.malformedStyle, faultDraw)
    sendJson(res, reply.status, reply.body)
  }

  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (res.headersSent || res.destroyed) return
      if (error instanceof HttpProblem) sendJson(res, error.status, { error: error.message })
      else sendJson(res, 500, { error: 'internal simulator error' })
    })
  })
  server.on('connection', () => {
    connectionCount += 1
  })

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const port = (server.address() as AddressInfo).port
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`
  jobs.baseUrl = url

  return {
    url,
    port,
    async close() {
      if (closing) return
      closing = true
      for (const timer of latencyTimers) clearTimeout(timer)
      latencyTimers.clear()
      for (const socket of heldSockets) socket.destroy()
      heldSockets.clear()
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      server.closeAllConnections()
      await closed
      await jobs.flush()
    },
    submissions: (jobId) => jobs.submissions(jobId),
    setFaults(partial) {
      checkFaults(partial)
      Object.assign(faults, partial)
    },
    connections: () => connectionCount,
    requests: () => requestCount,
  }
}

/** The faults to inject: the options given, the rest off. */
function faultsFrom(options: SimulatorOptions): SimulatorFaults {
  return {
    failRate: options.failRate ?? 0,
    rateLimitRate: options.rateLimitRate ?? 0,
    retryAfter: options.retryAfter,
    latencyMs: options.latencyMs ?? 0,
    malformedRate: options.malformedRate ?? 0,
    malformedStyle: options.malformedStyle ?? 'mixed',
    hangRate: options.hangRate ?? 0,
    jobFailRate: options.jobFailRate ?? 0,
    neverFinishRate: options.neverFinishRate ?? 0,
    cancelResistance: options.cancelResistance ?? 0,
    omitBilling: options.omitBilling ?? false,
    omitLogs: options.omitLogs ?? false,
  }
}

/** The contract's endpoints (src/cluster/contract.ts) over the simulated jobs. */
async function route(jobs: SimulatedJobs, faults: SimulatorFaults, req: IncomingMessage, url: URL): Promise<Reply> {
  const withoutBilling = <T extends { billed_gpu_seconds?: number }>(body: T) => billing(body, faults.omitBilling === true)
  const method = req.method ?? 'GET'
  const path = url.pathname
  const allow = (expected: string) => {
    if (method !== expected) throw new HttpProblem(405, `${path} takes ${expected}`)
  }
  if (path === '/training/submit') {
    allow('POST')
    const key = req.headers['idempotency-key']
    const { created, response } = jobs.submit(await readJson(req), typeof key === 'string' ? key : undefined)
    // A cluster that acknowledges a job has recorded it: the state file holds it before
    // the answer leaves, so a simulator killed right after (kill -9 of the local
    // service) restarts knowing the job, and the daemon does not fail it as unknown.
    await jobs.flush()
    return { status: created ? 201 : 200, body: response }
  }
  req.resume()
  let match: RegExpExecArray | null
  if ((match = /^\/training\/status\/([^/]+)$/.exec(path))) {
    allow('GET')
    return { status: 200, body: withoutBilling(jobs.status(match[1]!)) }
  }
  if ((match = /^\/training\/cancel\/([^/]+)$/.exec(path))) {
    allow('POST')
    const cancelled = jobs.cancel(match[1]!)
    await jobs.flush()
    return { status: 200, body: withoutBilling(cancelled) }
  }
  if ((match = /^\/training\/logs\/([^/]+)$/.exec(path)) && !faults.omitLogs) {
    allow('GET')
    return { status: 200, body: jobs.log(match[1]!, url.searchParams.get('after')) }
  }
  if (path === '/training/jobs') {
    allow('GET')
    const active = url.searchParams.get('active')
    const list = jobs.list(active === 'true' || active === '1')
    return { status: 200, body: { jobs: list.jobs.map(withoutBilling) } }
  }
  throw new HttpProblem(404, `no such endpoint: ${method} ${path}`)
}

/** An answer without its billing, when the faults say the cluster gives none. */
function billing<T extends { billed_gpu_seconds?: number }>(body: T, omit: boolean): T {
  if (!omit) return body
  const { billed_gpu_seconds: _, ...rest } = body
  return rest as T
}

/** The artifact downloads a completed job's status points to (signed URLs, checked by token). */
function serveArtifact(jobs: SimulatedJobs, req: IncomingMessage, res: ServerResponse, url: URL): void {
  req.resume()
  const match = /^\/artifacts\/([^/]+)\/(adapter\.safetensors|validation\/(\d+)\.jpg)$/.exec(url.pathname)
  if (match === null || (req.method !== 'GET' && req.method !== 'HEAD')) {
    throw new HttpProblem(404, 'no such artifact')
  }
  const file = jobs.artifact(match[1]!, match[3] === undefined ? 'adapter' : Number(match[3]), url.searchParams.get('token'))
  res.writeHead(200, { 'content-type': file.contentType, 'content-length': file.bytes.length })
  res.end(req.method === 'HEAD' ? undefined : file.bytes)
}

/** An answer that breaks the contract in the style asked for ('mixed' draws one). */
function sendMalformed(res: ServerResponse, body: unknown, asked: SimulatorFaults['malformedStyle'], draw: () => number): void {
  const styles = ['field', 'html', 'truncated'] as const
  const style = asked === 'mixed' ? styles[Math.floor(draw() * styles.length)]! : asked
  if (style === 'html') {
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(HTML_ERROR_PAGE) })
    res.end(HTML_ERROR_PAGE)
    return
  }
  if (style === 'truncated') {
    const text = JSON.stringify(body)
    const cut = text.slice(0, Math.max(1, Math.floor(text.length / 2)))
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(cut) })
    res.end(cut)
    return
  }
  sendJson(res, 200, corruptOneField(body))
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    const buffer = chunk as Buffer
    size += buffer.length
    if (size > MAX_BODY_BYTES) throw new HttpProblem(413, `the body is larger than ${MAX_BODY_BYTES} bytes`)
    chunks.push(buffer)
  }
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch {
    throw new HttpProblem(400, 'the body is not valid JSON')
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body)
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  })
  res.end(text)
}

/** Breaks one field's type: progress when there is one, else the first field. */
function corruptOneField(body: unknown): unknown {
  if (body === null || typeof body !== 'object') return 'unexpected'
  const record = { ...(body as Record<string, unknown>) }
  const key = 'progress' in record ? 'progress' : Object.keys(record)[0]
  if (key === undefined) return 'unexpected'
  const value = record[key]
  record[key] = typeof value === 'number' ? String(value) : typeof value === 'string' ? 0 : 'unavailable'
  return record
}
