import type { Dispatcher } from 'undici'
import type { Clock } from '../../clock.js'
import type { AlertsConfig } from '../../config/schema.js'
import type { IO } from '../../io/streams.js'
import { SEVERITY_RANK, type AlertNotification, type AlertSeverity, type DeliveryResult, type SinkName } from '../types.js'
import { post, type HttpOutcome, type HttpRequest } from './http.js'
import { redactValue } from '../../redact.js'
import { alertmanagerRequest, headline, pagerDutyRequest, slackRequest, webhookRequest, type PayloadContext } from './payloads.js'

/** The structured log the log sink writes to: the daemon's logger fits, so does defaultLogWriter. */
export interface LogWriter {
  info(message: string, fields?: Record<string, unknown>): void
  warn(message: string, fields?: Record<string, unknown>): void
  error(message: string, fields?: Record<string, unknown>): void
}

export interface Sink {
  name: SinkName
  minSeverity: AlertSeverity
  /** HTTP sinks: the request that carries a notification. */
  request?: (n: AlertNotification) => HttpRequest
}

/** Waits before retry 1, 2 and 3 of a failing sink. */
export const SINK_BACKOFF_MS = [1_000, 2_000, 4_000] as const
const MAX_RETRY_AFTER_MS = 60_000

/** The log (always) and every sink the profile configures. */
export function buildSinks(alerts: AlertsConfig, ctx: PayloadContext): Sink[] {
  const s = alerts.sinks
  const sinks: Sink[] = [{ name: 'log', minSeverity: 'info' }]
  if (s.slack) {
    const { webhookUrl } = s.slack
    sinks.push({ name: 'slack', minSeverity: s.slack.minSeverity, request: (n) => slackRequest(n, webhookUrl, ctx) })
  }
  if (s.pagerduty) {
    const { routingKey, url } = s.pagerduty
    sinks.push({ name: 'pagerduty', minSeverity: s.pagerduty.minSeverity, request: (n) => pagerDutyRequest(n, routingKey, url, ctx) })
  }
  if (s.webhook) {
    const { url, secret } = s.webhook
    sinks.push({ name: 'webhook', minSeverity: s.webhook.minSeverity, request: (n) => webhookRequest(n, url, secret, ctx) })
  }
  if (s.alertmanager) {
    const { url } = s.alertmanager
    sinks.push({ name: 'alertmanager', minSeverity: s.alertmanager.minSeverity, request: (n) => alertmanagerRequest(n, url, ctx) })
  }
  return sinks
}

export function accepts(sink: Sink, n: AlertNotification): boolean {
  if (sink.name === 'log' || n.kind === 'test') return true
  return SEVERITY_RANK[n.severity] >= SEVERITY_RANK[sink.minSeverity]
}

const LEVEL: Record<AlertSeverity, 'error' | 'warn' | 'info'> = { critical: 'error', warning: 'warn', info: 'info' }

export function logNotification(log: LogWriter, n: AlertNotification): void {
  const level = n.kind === 'resolved' || n.kind === 'summary' || n.kind === 'test' ? 'info' : LEVEL[n.severity]
  log[level](`${headline(n)}: ${n.kind === 'summary' ? n.message.split('\n').slice(1).join('; ') : n.message}`, {
    event: `alert.${n.kind}`,
    fingerprint: n.fingerprint,
    rule: n.rule,
    subject: n.subject,
    severity: n.severity,
    value: n.value,
    threshold: n.threshold,
    starts_at: n.startsAt.toISOString(),
    ...(n.endsAt ? { ends_at: n.endsAt.toISOString() } : {}),
  })
}

/**
 * A log on stderr for when no logger is handed in: JSON lines for machines, readable
 * lines on a terminal (the same shapes as the daemon's log).
 */
export function defaultLogWriter(io: IO, clock: Clock): LogWriter {
  const write = (level: 'info' | 'warn' | 'error', message: string, fields: Record<string, unknown> = {}) => {
    if (io.stderrIsTTY) {
      const tag = { info: 'info ', warn: 'warn ', error: 'error' }[level]
      const paint = { info: io.errStyle.info, warn: io.errStyle.warn, error: io.errStyle.fail }[level]
      const time = clock.now().toISOString().slice(11, 19)
      io.err(`${time} ${paint(tag)} ${message}`)
    } else {
      io.err(JSON.stringify({ level, time: clock.now().toISOString(), msg: message, ...fields }))
    }
  }
  return { info: (m, f) => write('info', m, f), warn: (m, f) => write('warn', m, f), error: (m, f) => write('error', m, f) }
}

export interface DeliverDeps {
  clock: Clock
  log: LogWriter
  signal?: AbortSignal
  /** Tests hand in their own; otherwise one short-lived pool per delivery. */
  dispatcher?: Dispatcher
  timeoutMs?: number
}

/**
 * Sends each notification to every sink that takes it. A sink's notifications go in
 * order (a resolve after its fire); sinks run side by side. A failing sink is retried
 * with backoff through the injected clock, then given up on with a log line: it never
 * throws, and never holds back the other sinks.
 */
export async function deliver(sinks: Sink[], given: AlertNotification[], deps: DeliverDeps): Promise<DeliveryResult[]> {
  if (given.length === 0) return []
  // An alert's text quotes errors, URLs and subjects: it leaves through the same
  // redaction as the rest of the output, before any sink builds its payload. (The
  // sinks' own credentials, a PagerDuty routing key, are added after, by the payload.)
  const notifications = given.map((n) => redactValue(n))
  const needsHttp = sinks.some((s) => s.request) && notifications.length > 0
  let dispatcher = deps.dispatcher
  let owned: Dispatcher | undefined
  if (needsHttp && !dispatcher) {
    const { Agent } = await import('undici')
    owned = dispatcher = new Agent({ connect: { timeout: 5_000 }, keepAliveTimeout: 1_000 })
  }
  try {
    const perSink = await Promise.all(
      sinks.map(async (sink) => {
        const results: DeliveryResult[] = []
        for (const n of notifications) {
          if (!accepts(sink, n)) continue
          if (!sink.request) {
            logNotification(deps.log, n)
            results.push({ sink: sink.name, fingerprint: n.fingerprint, kind: n.kind, ok: true, attempts: 1 })
            continue
          }
          results.push(await sendWithRetry(sink, n, { ...deps, ...(dispatcher ? { dispatcher } : {}) }))
        }
        return results
      }),
    )
    return perSink.flat()
  } finally {
    await owned?.close().catch(() => {})
  }
}

async function sendWithRetry(sink: Sink, n: AlertNotification, deps: DeliverDeps): Promise<DeliveryResult> {
  let request: HttpRequest
  try {
    request = sink.request!(n)
  } catch (error) {
    deps.log.error(`alert sink ${sink.name} could not build its request: ${(error as Error).message}`, { sink: sink.name })
    return { sink: sink.name, fingerprint: n.fingerprint, kind: n.kind, ok: false, attempts: 0, error: (error as Error).message }
  }
  const attempts = SINK_BACKOFF_MS.length + 1
  let outcome: HttpOutcome = { ok: false, retryable: false }
  for (let attempt = 1; attempt <= attempts; attempt++) {
    outcome = await post(request, { now: deps.clock.now(), ...(deps.dispatcher ? { dispatcher: deps.dispatcher } : {}), ...(deps.signal ? { signal: deps.signal } : {}), ...(deps.timeoutMs ? { timeoutMs: deps.timeoutMs } : {}) })
    const result = { sink: sink.name, fingerprint: n.fingerprint, kind: n.kind, attempts: attempt, ...(outcome.status ? { status: outcome.status } : {}) }
    if (outcome.ok) return { ...result, ok: true }
    if (!outcome.retryable || attempt === attempts || deps.signal?.aborted) {
      deps.log.error(`alert sink ${sink.name} failed to send ${n.kind} ${n.rule}${n.subject ? ` (${n.subject})` : ''} after ${attempt} attempt${attempt === 1 ? '' : 's'}: ${outcome.error}`, {
        sink: sink.name,
        fingerprint: n.fingerprint,
        attempts: attempt,
        ...(outcome.status ? { status: outcome.status } : {}),
      })
      return { ...result, ok: false, ...(outcome.error ? { error: outcome.error } : {}) }
    }
    const backoff = SINK_BACKOFF_MS[attempt - 1]!
    const wait = outcome.retryAfterMs !== undefined && outcome.retryAfterMs <= MAX_RETRY_AFTER_MS ? Math.max(backoff, outcome.retryAfterMs) : backoff
    deps.log.warn(`alert sink ${sink.name} failed (attempt ${attempt} of ${attempts}): ${outcome.error}; retrying in ${wait} ms`, {
      sink: sink.name,
      fingerprint: n.fingerprint,
    })
    try {
      await deps.clock.sleep(wait, deps.signal)
    } catch {
      return { ...result, ok: false, error: 'interrupted' }
    }
  }
  return { sink: sink.name, fingerprint: n.fingerprint, kind: n.kind, ok: false, attempts, ...(outcome.error ? { error: outcome.error } : {}) }
}
