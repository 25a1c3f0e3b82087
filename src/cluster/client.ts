import { Pool, type Dispatcher } from 'undici'
import type { z } from 'zod'
import type { Clock } from '../clock.js'
import { formatDuration } from '../config/duration.js'
import type { ClusterConfig } from '../config/schema.js'
import { LoraError, UsageError } from '../errors.js'
import { redact as redactText } from '../redact.js'
import {
  CancelResponse,
  describeIssue,
  ENDPOINTS,
  ErrorBody,
  ListJobsResponse,
  LogsResponse,
  StatusResponse,
  SubmitRequest,
  SubmitResponse,
  type JobSummary,
} from './contract.js'

export const CLUSTER_ERROR_KINDS = ['network', 'timeout', 'http_5xx', 'rate_limited', 'unauthorized', 'client_error', 'malformed'] as const
export type ClusterErrorKind = (typeof CLUSTER_ERROR_KINDS)[number]

/**
 * Whether a failure says something about the cluster's health, and so feeds its
 * circuit breaker. A 401 or a 4xx is about our configuration or our request: opening
 * the breaker would hide the real problem and stop work on a healthy cluster.
 */
const COUNTS_AGAINST_CLUSTER: Record<ClusterErrorKind, boolean> = {
  network: true,
  timeout: true,
  http_5xx: true,
  rate_limited: true,
  malformed: true,
  unauthorized: false,
  client_error: false,
}

export interface ClusterErrorDetails {
  kind: ClusterErrorKind
  cluster: string
  endpoint: string
  status?: number
  /** Requests sent before giving up; 0 when the request was refused before sending. */
  attempts: number
  /** What the cluster asked for in Retry-After when it was too long to wait in-call. */
  retryAfterMs?: number
  hint?: string
  cause?: unknown
}

/** Every failure of a cluster call, and the only exception the client throws. */
export class ClusterError extends LoraError {
  readonly kind: ClusterErrorKind
  readonly cluster: string
  readonly endpoint: string
  readonly status?: number
  readonly attempts: number
  readonly retryAfterMs?: number
  readonly countsAgainstCluster: boolean

  constructor(message: string, details: ClusterErrorDetails) {
    super(message, { code: `cluster_${details.kind}`, hint: details.hint, cause: details.cause })
    this.name = 'ClusterError'
    this.kind = details.kind
    this.cluster = details.cluster
    this.endpoint = details.endpoint
    this.status = details.status
    this.attempts = details.attempts
    this.retryAfterMs = details.retryAfterMs
    this.countsAgainstCluster = COUNTS_AGAINST_CLUSTER[details.kind]
  }
}

export function isClusterError(error: unknown): error is ClusterError {
  return error instanceof ClusterError
}

export interface ClusterClientDeps {
  clock: Clock
  /** A dispatcher to send through instead of the client's own pool (tests: MockAgent). */
  dispatcher?: Dispatcher
  /** Source of backoff jitter, in [0, 1). */
  random?: () => number
  /** Upper bound of keep-alive connections to this cluster. */
  connections?: number
}

export interface CallOptions {
  /** Aborts the call, backoff waits included; the abort reason is rethrown as is. */
  signal?: AbortSignal
}

export interface ClusterClient {
  readonly name: string
  submit(request: SubmitRequest, options?: CallOptions): Promise<SubmitResponse>
  status(externalJobId: string, options?: CallOptions): Promise<StatusResponse>
  cancel(externalJobId: string, options?: CallOptions): Promise<CancelResponse>
  listJobs(query?: { active?: boolean }, options?: CallOptions): Promise<JobSummary[]>
  /** A run's training log after `after` (from its start without one). Optional for a cluster: 404 when it has none. */
  logs(externalJobId: string, query?: { after?: string }, options?: CallOptions): Promise<LogsResponse>
  /** Latency in ms of one GET /training/jobs?active=true, without retries. */
  ping(options?: CallOptions): Promise<number>
  close(): Promise<void>
}

/** Waits before retry 1, 2 and 3 (seed 001, scenario 1). */
export const BACKOFF_MS = [2_000, 4_000, 8_000] as const
/** Jitter added to each backoff wait, as a share of it, so that daemons do not retry in step. */
export const JITTER_RATIO = 0.25
/** A longer Retry-After is not waited for inside one call: the caller defers instead. */
export const MAX_RETRY_AFTER_MS = 60_000
const MAX_RESPONSE_BYTES = 8 * 1024 * 1024

interface Failure {
  kind: ClusterErrorKind
  /** What happened, worded to follow `GPU cluster "name" `. */
  describe: string
  retryable: boolean
  status?: number
  retryAfterMs?: number
  cause?: unknown
}

interface Call<T> {
  method: 'GET' | 'POST'
  path: string
  endpoint: string
  schema: z.ZodType<T>
  body?: unknown
  headers?: Record<string, string>
  retries: number
  signal?: AbortSignal
}

export function createClusterClient(config: ClusterConfig, deps: ClusterClientDeps): ClusterClient {
  const { clock } = deps
  const random = deps.random ?? Math.random
  const base = parseBaseUrl(config)
  const ownsDispatcher = deps.dispatcher === undefined
  const dispatcher: Dispatcher =
    deps.dispatcher ??
    new Pool(base.origin, {
      connections: deps.connections ?? 16,
      connect: { timeout: config.connectTimeoutMs },
      headersTimeout: config.requestTimeoutMs,
      bodyTimeout: config.requestTimeoutMs,
      maxResponseSize: MAX_RESPONSE_BYTES,
    })
  let closed = false

  // A cluster's answer may quote its key or a signed URL back at us.
  const redact = (text: string): string => redactText(text, { secrets: [config.apiKey], urlQueries: true })

  const hints = errorHints(config)

  function toError(failure: Failure, endpoint: string, attempts: number): ClusterError {
    const tries = attempts > 1 ? ` (${attempts} attempts)` : ''
    return new ClusterError(redact(`GPU cluster "${config.name}" ${failure.describe}${tries}.`), {
      kind: failure.kind,
      cluster: config.name,
      endpoint,
      status: failure.status,
      attempts,
      retryAfterMs: failure.retryAfterMs,
      hint: hints[failure.kind],
      cause: failure.cause,
    })
  }

  async function send<T>(call: Call<T>): Promise<T> {
    for (let attempts = 1; ; attempts++) {
      const outcome = await attempt(dispatcher, base, config, call, () => clock.now())
      if (outcome.ok) return outcome.value
      const { failure } = outcome
      if (!failure.retryable || attempts > call.retries || closed) throw toError(failure, call.endpoint, attempts)
      await clock.sleep(failure.retryAfterMs ?? backoffMs(attempts, random), call.signal)
    }
  }

  function refuse(endpoint: string, describe: string): ClusterError {
    return new ClusterError(redact(`lora did not send ${endpoint} to GPU cluster "${config.name}": ${describe}.`), {
      kind: 'client_error',
      cluster: config.name,
      endpoint,
      attempts: 0,
      hint: 'This is a bug in the caller: the request breaks the cluster contract.',
    })
  }

  function jobPath(action: 'status' | 'cancel' | 'logs', externalJobId: string): { path: string; endpoint: string } {
    if (typeof externalJobId !== 'string' || externalJobId === '') {
      throw refuse(ENDPOINTS[action]('<empty>'), 'the external job id is empty')
    }
    return { path: `/training/${action}/${encodeURIComponent(externalJobId)}`, endpoint: ENDPOINTS[action](externalJobId) }
  }

  return {
    name: config.name,

    async submit(request, options = {}) {
      const checked = SubmitRequest.safeParse(request, { reportInput: true })
      if (!checked.success) throw refuse(ENDPOINTS.submit, describeIssue(checked.error))
      return send({
        method: 'POST',
        path: '/training/submit',
        endpoint: ENDPOINTS.submit,
        schema: SubmitResponse,
        body: checked.data,
        // The cluster deduplicates on this key, which makes a retried submit safe.
        headers: { 'idempotency-key': checked.data.job_id },
        retries: BACKOFF_MS.length,
        signal: options.signal,
      })
    },

    async status(externalJobId, options = {}) {
      const { path, endpoint } = jobPath('status', externalJobId)
      return send({ method: 'GET', path, endpoint, schema: StatusResponse, retries: BACKOFF_MS.length, signal: options.signal })
    },

    async cancel(externalJobId, options = {}) {
      const { path, endpoint } = jobPath('cancel', externalJobId)
      return send({ method: 'POST', path, endpoint, schema: CancelResponse, retries: BACKOFF_MS.length, signal: options.signal })
    },

    async logs(externalJobId, query = {}, options = {}) {
      const { path, endpoint } = jobPath('logs', externalJobId)
      const after = query.after === undefined ? '' : `?after=${encodeURIComponent(query.after)}`
      return send({ method: 'GET', path: path + after, endpoint, schema: LogsResponse, retries: BACKOFF_MS.length, signal: options.signal })
    },

    async listJobs(query = {}, options = {}) {
      const active = query.active === true
      const response = await send({
        method: 'GET',
        path: active ? '/training/jobs?active=true' : '/training/jobs',
        endpoint: ENDPOINTS.jobs(active),
        schema: ListJobsResponse,
        retries: BACKOFF_MS.length,
        signal: options.signal,
      })
      return response.jobs
    },

    async ping(options = {}) {
      const started = clock.now().getTime()
      await send({
        method: 'GET',
        path: '/training/jobs?active=true',
        endpoint: ENDPOINTS.jobs(true),
        schema: ListJobsResponse,
        // A health probe reports the cluster as it is now; retries would hide a blip
        // behind 14 seconds of waiting.
        retries: 0,
        signal: options.signal,
      })
      return clock.now().getTime() - started
    },

    async close() {
      if (closed) return
      closed = true
      if (ownsDispatcher) await dispatcher.close()
    },
  }
}

/** What to do about each kind of failure, for this cluster's configuration. */
function errorHints(config: ClusterConfig): Record<ClusterErrorKind, string> {
  return {
    network: `Check that clusters.${config.name}.url is right and that the cluster is up.`,
    timeout: `The cluster is slow or unreachable; if it is only slow, raise clusters.${config.name}.requestTimeout.`,
    http_5xx: 'The cluster is failing on its side; try again later.',
    rate_limited: 'The cluster is rate-limiting us; try again later.',
    unauthorized:
      config.apiKey === undefined
        ? `The cluster requires an API key: set clusters.${config.name}.apiKey in the profile.`
        : `Check clusters.${config.name}.apiKey in the profile.`,
    client_error: 'The cluster refused the request itself; check the job and its configuration.',
    malformed: "The cluster's answer broke the contract, so it was not used; report it to the cluster's operators.",
  }
}

/** The wait before retry number `retry` (1-based), with its jitter. */
function backoffMs(retry: number, random: () => number): number {
  const wait: number = BACKOFF_MS[Math.min(retry, BACKOFF_MS.length) - 1] ?? BACKOFF_MS[BACKOFF_MS.length - 1]!
  return Math.round(wait + random() * wait * JITTER_RATIO)
}

/** One HTTP exchange of a call, without retries. */
async function attempt<T>(
  dispatcher: Dispatcher,
  base: { origin: string; pathPrefix: string },
  config: ClusterConfig,
  call: Call<T>,
  now: () => Date,
): Promise<{ ok: true; value: T } | { ok: false; failure: Failure }> {
  const headers: Record<string, string> = { accept: 'application/json', 'user-agent': 'lora', ...call.headers }
  if (config.apiKey !== undefined && config.apiKey !== '') headers.authorization = `Bearer ${config.apiKey}`
  let body: string | undefined
  if (call.body !== undefined) {
    body = JSON.stringify(call.body)
    headers['content-type'] = 'application/json'
  }
  let statusCode: number
  let responseHeaders: Record<string, string | string[] | undefined>
  let text: string
  // One deadline for the whole exchange, body included. undici's own headers and
  // body timeouts stay as a backstop, but they tick on a coarse shared timer that
  // can fire up to a second late. This is socket time, so it is real time: the
  // injected clock governs only the waits between attempts.
  const deadline = AbortSignal.timeout(config.requestTimeoutMs)
  const signal = call.signal === undefined ? deadline : AbortSignal.any([call.signal, deadline])
  try {
    const response = await dispatcher.request({
      origin: base.origin,
      path: base.pathPrefix + call.path,
      method: call.method,
      headers,
      body,
      headersTimeout: config.requestTimeoutMs,
      bodyTimeout: config.requestTimeoutMs,
      signal,
    })
    statusCode = response.statusCode
    responseHeaders = response.headers
    text = await response.body.text()
  } catch (error) {
    if (call.signal?.aborted) throw call.signal.reason
    if (deadline.aborted) return { ok: false, failure: requestTimeout(call.endpoint, config, error) }
    return { ok: false, failure: transportFailure(error, call.endpoint, config) }
  }
  return interpret(call, statusCode, responseHeaders, text, now())
}

/** One HTTP answer read against the contract: the value, or the failure it is (retryable or not). */
function interpret<T>(
  call: Call<T>,
  status: number,
  headers: Record<string, string | string[] | undefined>,
  text: string,
  now: Date,
): { ok: true; value: T } | { ok: false; failure: Failure } {
  const { endpoint } = call
  if (status >= 200 && status < 300) {
    const parsed = parseJsonBody(text, headers)
    if (!parsed.ok) {
      return fail({ kind: 'malformed', describe: `sent a malformed answer to ${endpoint}: ${parsed.problem} (HTTP ${status})`, retryable: false, status })
    }
    const result = call.schema.safeParse(parsed.value, { reportInput: true })
    if (!result.success) {
      return fail({
        kind: 'malformed',
        describe: `sent a malformed answer to ${endpoint}: ${describeIssue(result.error)}`,
        retryable: false,
        status,
        // No cause: zod's issues quote the input, and the input may hold signed URLs.
      })
    }
    return { ok: true, value: result.data }
  }
  const said = serverMessage(text, headers)
  const suffix = said === undefined ? '' : `: ${said}`
  if (status === 401 || status === 403) {
    return fail({ kind: 'unauthorized', describe: `rejected our credentials for ${endpoint} (HTTP ${status})`, retryable: false, status })
  }
  if (status === 429 || status === 503) {
    const retryAfterMs = parseRetryAfter(headers['retry-after'], now)
    const kind: ClusterErrorKind = status === 429 ? 'rate_limited' : 'http_5xx'
    const verb = status === 429 ? `rate-limited ${endpoint} (HTTP 429)` : `answered ${endpoint} with HTTP 503${suffix}`
    if (retryAfterMs !== undefined && retryAfterMs > MAX_RETRY_AFTER_MS) {
      return fail({ kind, describe: `${verb} and asked us to wait ${formatDuration(retryAfterMs)}`, retryable: false, status, retryAfterMs })
    }
    return fail({ kind, describe: verb, retryable: true, status, retryAfterMs })
  }
  if (status >= 500) {
    return fail({ kind: 'http_5xx', describe: `answered ${endpoint} with HTTP ${status}${suffix}`, retryable: true, status })
  }
  if (status === 408) {
    return fail({ kind: 'timeout', describe: `timed out ${endpoint} on its side (HTTP 408)`, retryable: true, status })
  }
  if (status >= 300 && status < 400) {
    // The Location is not quoted: it may carry a signed token.
    return fail({ kind: 'client_error', describe: `redirected ${endpoint} elsewhere (HTTP ${status}); the configured URL is probably out of date`, retryable: false, status })
  }
  return fail({ kind: 'client_error', describe: `refused ${endpoint} with HTTP ${status}${suffix}`, retryable: false, status })
}

function fail(failure: Failure): { ok: false; failure: Failure } {
  return { ok: false, failure }
}

function parseBaseUrl(config: ClusterConfig): { origin: string; pathPrefix: string } {
  let url: URL
  try {
    url = new URL(config.url)
  } catch {
    url = new URL('invalid:')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    // The URL itself is not quoted: it may hold credentials.
    throw new UsageError(`clusters.${config.name}.url is not an http or https URL.`, {
      hint: 'Write it as https://host[:port][/prefix], or "simulator" for the built-in simulator.',
    })
  }
  return { origin: url.origin, pathPrefix: url.pathname.replace(/\/+$/, '') }
}

type Parsed = { ok: true; value: unknown } | { ok: false; problem: string }

function parseJsonBody(text: string, headers: Record<string, string | string[] | undefined>): Parsed {
  const contentType = headerValue(headers['content-type']) ?? ''
  const trimmed = text.trimStart()
  if (trimmed === '') return { ok: false, problem: 'the body is empty' }
  if (/html/i.test(contentType) || trimmed.startsWith('<')) return { ok: false, problem: 'HTML instead of JSON' }
  try {
    return { ok: true, value: JSON.parse(text) }
  } catch {
    return { ok: false, problem: 'the body is not valid JSON' }
  }
}

/** The cluster's own `{ error }` sentence, short and with secrets removed by the caller. */
function serverMessage(text: string, headers: Record<string, string | string[] | undefined>): string | undefined {
  const parsed = parseJsonBody(text, headers)
  if (!parsed.ok) return undefined
  const body = ErrorBody.safeParse(parsed.value)
  if (!body.success) return undefined
  const message = body.data.error.replace(/\s+/g, ' ').trim()
  return message.length > 200 ? `${message.slice(0, 199)}…` : message
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value
}

/** Retry-After as seconds or as an HTTP date, in ms from now; undefined when unusable. */
export function parseRetryAfter(value: string | string[] | undefined, now: Date): number | undefined {
  const text = headerValue(value)?.trim()
  if (text === undefined || text === '') return undefined
  if (/^\d+$/.test(text)) return Number(text) * 1000
  const at = Date.parse(text)
  if (Number.isNaN(at)) return undefined
  return Math.max(0, at - now.getTime())
}

function errorCode(error: unknown): string | undefined {
  const seen = new Set<unknown>()
  let current: unknown = error
  // undici wraps socket errors, and a dual-stack connect reports an AggregateError.
  while (current !== null && typeof current === 'object' && !seen.has(current)) {
    seen.add(current)
    const code = (current as { code?: unknown }).code
    if (typeof code === 'string' && code !== 'UND_ERR' && code !== 'ERR_AGGREGATE') return code
    const nested = (current as { errors?: unknown }).errors
    current = Array.isArray(nested) && nested.length > 0 ? nested[0] : (current as { cause?: unknown }).cause
  }
  return undefined
}

const NETWORK_WORDS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'DNS lookup failed',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EPIPE: 'connection closed while sending',
  UND_ERR_SOCKET: 'the connection closed unexpectedly',
  UND_ERR_CLOSED: 'the client is closed',
  UND_ERR_DESTROYED: 'the client is closed',
}

function requestTimeout(endpoint: string, config: ClusterConfig, cause: unknown): Failure {
  return { kind: 'timeout', describe: `did not answer ${endpoint} within ${formatDuration(config.requestTimeoutMs)}`, retryable: true, cause }
}

function transportFailure(error: unknown, endpoint: string, config: ClusterConfig): Failure {
  const code = errorCode(error)
  switch (code) {
    case 'UND_ERR_CONNECT_TIMEOUT':
    case 'ETIMEDOUT':
      return {
        kind: 'timeout',
        describe: `did not accept a connection for ${endpoint} within ${formatDuration(config.connectTimeoutMs)}`,
        retryable: true,
        cause: error,
      }
    case 'UND_ERR_HEADERS_TIMEOUT':
    case 'UND_ERR_BODY_TIMEOUT':
      return requestTimeout(endpoint, config, error)
    case 'UND_ERR_RES_EXCEEDED_MAX_SIZE':
      return {
        kind: 'malformed',
        describe: `sent a malformed answer to ${endpoint}: larger than ${MAX_RESPONSE_BYTES / 1024 / 1024} MiB`,
        retryable: false,
        cause: error,
      }
    default: {
      const words = (code !== undefined && NETWORK_WORDS[code]) || code || 'network error'
      return { kind: 'network', describe: `could not be reached for ${endpoint}: ${words}`, retryable: true, cause: error }
    }
  }
}

