import { createServer, type IncomingHttpHeaders, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { FakeClock } from '../../src/clock.js'
import { alertsConfig, type AlertsConfig, type ResolvedConfig } from '../../src/config/schema.js'
import { testConfig } from '../helpers/context.js'

/** A fake clock whose sleeps pass at once (moving time on), for sink retries inside one call. */
export class AutoClock extends FakeClock {
  override sleep(ms: number, signal?: AbortSignal): Promise<void> {
    const done = super.sleep(ms, signal)
    this.advance(ms)
    return done
  }
}

export interface Received {
  method: string
  path: string
  headers: IncomingHttpHeaders
  body: string
  json: unknown
}

export interface Receiver {
  url: string
  requests: Received[]
  /** The answers to give, in order; the last one repeats. */
  respond(...answers: { status: number; body?: string; headers?: Record<string, string> }[]): void
  close(): Promise<void>
}

/**
 * A local HTTP receiver standing in for Slack, PagerDuty, Alertmanager or a webhook:
 * it records each request and answers as told; `validate` plays the real service's
 * checks (a payload it would refuse gets a 400 with the reason).
 */
export async function startReceiver(validate: (r: Received) => string | null = () => null, ok: { status: number; body?: string } = { status: 200, body: 'ok' }): Promise<Receiver> {
  const requests: Received[] = []
  let answers: { status: number; body?: string; headers?: Record<string, string> }[] = [ok]
  const server: Server = createServer((req, res) => {
    let body = ''
    req.on('data', (c) => (body += c))
    req.on('end', () => {
      let json: unknown = undefined
      try {
        json = JSON.parse(body)
      } catch {
        // Left undefined: validate says what is wrong.
      }
      const received: Received = { method: req.method ?? '', path: req.url ?? '', headers: req.headers, body, json }
      requests.push(received)
      const problem = validate(received)
      const answer = problem ? { status: 400, body: problem } : answers.length > 1 ? answers.shift()! : answers[0]!
      res.writeHead(answer.status, { 'content-type': 'text/plain', ...answer.headers })
      res.end(answer.body ?? '')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    respond: (...a) => {
      answers = a
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v)

/** Slack incoming webhooks: JSON with a text (or blocks) and well-formed Block Kit blocks. */
export function slackProblem(r: Received): string | null {
  if (r.method !== 'POST') return 'invalid_method'
  if (!String(r.headers['content-type']).startsWith('application/json')) return 'invalid_payload: content-type'
  const b = r.json
  if (!isObject(b)) return 'invalid_payload'
  if (typeof b.text !== 'string' || b.text === '') return 'no_text'
  if (b.blocks !== undefined) {
    if (!Array.isArray(b.blocks)) return 'invalid_blocks'
    for (const block of b.blocks) {
      if (!isObject(block) || !['header', 'section', 'context', 'divider'].includes(String(block.type))) return 'invalid_blocks: type'
      if (block.type === 'header') {
        const t = block.text as Record<string, unknown>
        if (!isObject(t) || t.type !== 'plain_text' || typeof t.text !== 'string' || t.text.length > 150) return 'invalid_blocks: header'
      }
      if (block.type === 'section') {
        const t = block.text as Record<string, unknown>
        if (!isObject(t) || !['mrkdwn', 'plain_text'].includes(String(t.type)) || typeof t.text !== 'string' || t.text.length > 3000) return 'invalid_blocks: section'
      }
      if (block.type === 'context' && (!Array.isArray(block.elements) || block.elements.length === 0 || block.elements.length > 10)) return 'invalid_blocks: context'
    }
  }
  return null
}

/** PagerDuty Events API v2 (POST /v2/enqueue). */
export function pagerDutyProblem(r: Received): string | null {
  if (r.method !== 'POST' || r.path !== '/v2/enqueue') return `not found: ${r.method} ${r.path}`
  const b = r.json
  if (!isObject(b)) return 'Event object is invalid'
  if (typeof b.routing_key !== 'string' || b.routing_key === '') return "'routing_key' is missing"
  if (!['trigger', 'acknowledge', 'resolve'].includes(String(b.event_action))) return "'event_action' is invalid"
  if (b.dedup_key !== undefined && (typeof b.dedup_key !== 'string' || b.dedup_key.length > 255)) return "'dedup_key' is invalid"
  if (b.event_action !== 'trigger') return b.dedup_key ? null : "'dedup_key' is required to resolve"
  const p = b.payload
  if (!isObject(p)) return "'payload' is missing"
  if (typeof p.summary !== 'string' || p.summary === '' || p.summary.length > 1024) return "'payload.summary' is invalid"
  if (typeof p.source !== 'string' || p.source === '') return "'payload.source' is missing"
  if (!['critical', 'error', 'warning', 'info'].includes(String(p.severity))) return "'payload.severity' is invalid"
  if (p.timestamp !== undefined && Number.isNaN(Date.parse(String(p.timestamp)))) return "'payload.timestamp' is invalid"
  return null
}

/** Prometheus Alertmanager API v2 (POST /api/v2/alerts): a list of postable alerts. */
export function alertmanagerProblem(r: Received): string | null {
  if (r.method !== 'POST' || r.path !== '/api/v2/alerts') return `not found: ${r.method} ${r.path}`
  if (!Array.isArray(r.json)) return 'body must be an array of alerts'
  for (const a of r.json) {
    if (!isObject(a) || !isObject(a.labels)) return 'labels are required'
    if (typeof a.labels.alertname !== 'string' || a.labels.alertname === '') return 'alertname label is required'
    for (const [k, v] of Object.entries(a.labels)) {
      if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(k) || typeof v !== 'string') return `invalid label ${k}`
    }
    if (a.annotations !== undefined && (!isObject(a.annotations) || Object.values(a.annotations).some((v) => typeof v !== 'string'))) return 'annotations must be strings'
    for (const t of ['startsAt', 'endsAt'] as const) if (a[t] !== undefined && Number.isNaN(Date.parse(String(a[t])))) return `${t} is not a time`
    if (a.startsAt && a.endsAt && Date.parse(String(a.endsAt)) < Date.parse(String(a.startsAt))) return 'endsAt before startsAt'
  }
  return null
}

/** A configuration whose alerts differ from the defaults as given. */
export function configWithAlerts(alerts: Partial<AlertsConfig>, base: Partial<ResolvedConfig> = {}): ResolvedConfig {
  const config = testConfig(base)
  return { ...config, alerts: { ...alertsConfig(config), ...alerts } }
}
