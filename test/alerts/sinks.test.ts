import { afterEach, describe, expect, it } from 'vitest'
import { createHmac } from 'node:crypto'
import { buildSinks, deliver, type LogWriter } from '../../src/alerts/sinks/index.js'
import type { AlertNotification } from '../../src/alerts/types.js'
import { alertsConfig } from '../../src/config/schema.js'
import { testConfig } from '../helpers/context.js'
import { clearSecrets, registerSecret } from '../../src/redact.js'
import { documentedVerifier } from './verifier.js'
import { AutoClock, alertmanagerProblem, pagerDutyProblem, slackProblem, startReceiver, type Receiver } from './helpers.js'

const at = new Date('2026-01-15T12:00:00Z')
const fired: AlertNotification = {
  kind: 'fired',
  fingerprint: 'failure-rate-0123456789ab',
  rule: 'failure-rate',
  subject: '',
  severity: 'critical',
  message: 'LoRA training failure rate is 25.0 % over 24 h: 2 of 8 finished jobs (threshold: 20 %).',
  value: 25,
  threshold: 20,
  startsAt: at,
  endsAt: null,
  at,
}
const resolved: AlertNotification = { ...fired, kind: 'resolved', endsAt: new Date(at.getTime() + 3_600_000), at: new Date(at.getTime() + 3_600_000) }

function memoryLog(): LogWriter & { lines: string[] } {
  const lines: string[] = []
  return { lines, info: (m) => lines.push(`info ${m}`), warn: (m) => lines.push(`warn ${m}`), error: (m) => lines.push(`error ${m}`) }
}

describe('alert sinks against local receivers that check their real counterpart', () => {
  const receivers: Receiver[] = []
  afterEach(async () => {
    for (const r of receivers.splice(0)) await r.close()
  })
  const receiver = async (...args: Parameters<typeof startReceiver>) => {
    const r = await startReceiver(...args)
    receivers.push(r)
    return r
  }
  const sinksFor = (sinks: ReturnType<typeof alertsConfig>['sinks']) =>
    buildSinks({ ...alertsConfig(testConfig()), sinks }, { profile: 'prod', alertmanagerHoldMs: 8 * 3_600_000 })

  it('passes every alert through the redaction: a secret in its text reaches no sink, the log included', async () => {
    registerSecret('cluster-key-9f8e7d6c5b4a')
    try {
      const leaky: AlertNotification = {
        ...fired,
        subject: 'postgres://lora:Db-Pa55word@db.example.com/postgres',
        message: 'GPU cluster said: invalid key cluster-key-9f8e7d6c5b4a for https://x.test/a?token=abcdef123456 (Bearer eyJhbGciOiJIUzI1NiJ9.eyJyb2xlIjoic2VydmljZSJ9.c2lnbmF0dXJlMTIz)',
      }
      const [slack, pd, hook, am] = await Promise.all([receiver(slackProblem), receiver(pagerDutyProblem, { status: 202 }), receiver(), receiver(alertmanagerProblem)])
      const log = memoryLog()
      const results = await deliver(
        sinksFor({
          slack: { webhookUrl: `${slack.url}/services/T/B/X`, minSeverity: 'info' },
          pagerduty: { routingKey: 'R0UT1NGKEY', url: `${pd.url}/v2/enqueue`, minSeverity: 'info' },
          webhook: { url: `${hook.url}/hook`, secret: 'whsec', minSeverity: 'info' },
          alertmanager: { url: am.url, minSeverity: 'info' },
        }),
        [leaky],
        { clock: new AutoClock(at), log },
      )
      expect(results.every((r) => r.ok)).toBe(true)
      const bodies = [slack, pd, hook, am].map((r) => r.requests.map((q) => q.body).join('\n'))
      for (const text of [...bodies, log.lines.join('\n')]) {
        expect(text).not.toContain('cluster-key-9f8e7d6c5b4a')
        expect(text).not.toContain('Db-Pa55word')
        expect(text).not.toContain('abcdef123456')
        expect(text).not.toContain('eyJyb2xlIjoic2VydmljZSJ9')
        expect(text).toContain('***')
      }
      // The sink's own credential is not alert text: PagerDuty still gets its routing key.
      expect((pd.requests[0]!.json as { routing_key: string }).routing_key).toBe('R0UT1NGKEY')
    } finally {
      clearSecrets()
    }
  })

  it('signs each attempt afresh, and the README\'s verifier refuses a delivery replayed after 5 minutes, or tampered with', async () => {
    const verify = await documentedVerifier()
    const hook = await receiver()
    hook.respond({ status: 503 }, { status: 200 })
    const clock = new AutoClock(at)
    await deliver(sinksFor({ webhook: { url: `${hook.url}/h`, secret: 'hook-secret', minSeverity: 'info' } }), [fired], { clock, log: memoryLog() })
    const [first, retry] = hook.requests
    const sig = (r: typeof first) => String(r!.headers['x-lora-signature'])
    // The retry went out a second later on the clock: its own timestamp, its own signature.
    expect(sig(first)).toBe(`t=${at.getTime() / 1000},v1=${createHmac('sha256', 'hook-secret').update(`${at.getTime() / 1000}.${first!.body}`).digest('hex')}`)
    expect(sig(retry)).not.toBe(sig(first))
    const sentAt = at.getTime() / 1000
    expect(verify(sig(first), first!.body, 'hook-secret', sentAt + 10)).toBe(true)
    // Captured and sent again later: refused.
    expect(verify(sig(first), first!.body, 'hook-secret', sentAt + 301)).toBe(false)
    // A fresh timestamp on the old signature, another body, another secret: refused.
    expect(verify(sig(first).replace(/^t=\d+/, `t=${sentAt + 600}`), first!.body, 'hook-secret', sentAt + 600)).toBe(false)
    expect(verify(sig(first), first!.body.replace('critical', 'info'), 'hook-secret', sentAt)).toBe(false)
    expect(verify(sig(first), first!.body, 'other-secret', sentAt)).toBe(false)
  })

  it('Slack: an incoming-webhook payload with text and Block Kit blocks', async () => {
    const slack = await receiver(slackProblem)
    const log = memoryLog()
    const results = await deliver(sinksFor({ slack: { webhookUrl: `${slack.url}/services/T000/B000/XXXX`, minSeverity: 'info' } }), [fired, resolved], { clock: new AutoClock(at), log })
    expect(results.map((r) => [r.sink, r.kind, r.ok, r.attempts])).toEqual([
      ['log', 'fired', true, 1],
      ['log', 'resolved', true, 1],
      ['slack', 'fired', true, 1],
      ['slack', 'resolved', true, 1],
    ])
    expect(slack.requests.map((r) => r.path)).toEqual(['/services/T000/B000/XXXX', '/services/T000/B000/XXXX'])
    const [first, second] = slack.requests.map((r) => r.json as { text: string; blocks: { type: string; text?: { text: string } }[] })
    expect(first!.text).toBe(`[FIRING] critical: failure-rate: ${fired.message}`)
    expect(first!.blocks.map((b) => b.type)).toEqual(['header', 'section', 'context'])
    expect(first!.blocks[1]!.text!.text).toBe(fired.message)
    expect(second!.text).toMatch(/^\[RESOLVED\] critical: failure-rate/)
    // The log sink wrote one line per notification.
    expect(log.lines).toEqual([`error [FIRING] critical: failure-rate: ${fired.message}`, `info [RESOLVED] critical: failure-rate: ${fired.message}`])
  })

  it('PagerDuty Events v2: trigger with dedup_key = fingerprint and mapped severity, then resolve', async () => {
    const pd = await receiver(pagerDutyProblem, { status: 202, body: '{"status":"success","message":"Event processed"}' })
    const sinks = sinksFor({ pagerduty: { routingKey: 'R0UT1NGKEY', url: `${pd.url}/v2/enqueue`, minSeverity: 'critical' } })
    const warning: AlertNotification = { ...fired, fingerprint: 'stuck-jobs-1', rule: 'stuck-jobs', subject: 'job-1', severity: 'warning' }
    const results = await deliver(sinks, [fired, warning, resolved], { clock: new AutoClock(at), log: memoryLog() })
    // A warning is below PagerDuty's default minimum: logged, not paged.
    expect(results.filter((r) => r.sink === 'pagerduty').map((r) => [r.kind, r.ok, r.status])).toEqual([
      ['fired', true, 202],
      ['resolved', true, 202],
    ])
    const [trigger, resolve] = pd.requests.map((r) => r.json as Record<string, any>)
    expect(trigger).toMatchObject({
      routing_key: 'R0UT1NGKEY',
      event_action: 'trigger',
      dedup_key: fired.fingerprint,
      payload: { summary: fired.message, source: 'lora/prod', severity: 'critical', group: 'failure-rate', timestamp: at.toISOString(), custom_details: { value: 25, threshold: 20 } },
    })
    expect(resolve).toEqual({ routing_key: 'R0UT1NGKEY', event_action: 'resolve', dedup_key: fired.fingerprint })
  })

  it('the JSON webhook: a documented body, signed with a timestamp and HMAC-SHA256 over "t.body", checked by the README\'s verifier', async () => {
    const verify = await documentedVerifier()
    const hook = await receiver((r) => {
      const header = String(r.headers['x-lora-signature'])
      const t = Number(/^t=(\d+),v1=[0-9a-f]{64}$/.exec(header)?.[1])
      const expected = `t=${t},v1=${createHmac('sha256', 'hook-secret').update(`${t}.${r.body}`).digest('hex')}`
      return header === expected && verify(header, r.body, 'hook-secret', at.getTime() / 1000) ? null : 'bad signature'
    })
    const results = await deliver(sinksFor({ webhook: { url: `${hook.url}/hooks/lora`, secret: 'hook-secret', minSeverity: 'info' } }), [fired], { clock: new AutoClock(at), log: memoryLog() })
    expect(results.find((r) => r.sink === 'webhook')).toMatchObject({ ok: true, status: 200 })
    const [request] = hook.requests
    expect(request!.headers['x-lora-event']).toBe('alert.fired')
    expect(request!.headers['x-lora-delivery']).toBe(`${fired.fingerprint}.fired.${at.getTime()}`)
    expect(request!.json).toEqual({
      version: 1,
      event: 'alert.fired',
      profile: 'prod',
      sent_at: at.toISOString(),
      alert: {
        fingerprint: fired.fingerprint,
        rule: 'failure-rate',
        subject: '',
        severity: 'critical',
        status: 'firing',
        message: fired.message,
        value: 25,
        threshold: 20,
        starts_at: at.toISOString(),
        ends_at: null,
        previous_severity: null,
      },
    })
    // The receiver refuses a body whose signature does not match: the check can fail.
    const forged = await deliver(sinksFor({ webhook: { url: hook.url, secret: 'wrong-secret', minSeverity: 'info' } }), [fired], { clock: new AutoClock(at), log: memoryLog() })
    expect(forged.find((r) => r.sink === 'webhook')).toMatchObject({ ok: false, status: 400, attempts: 1 })
  })

  it('Alertmanager v2: postable alerts with labels and annotations; endsAt ends them on resolve and on escalation', async () => {
    const am = await receiver(alertmanagerProblem)
    const sinks = sinksFor({ alertmanager: { url: am.url, minSeverity: 'warning' } })
    const escalated: AlertNotification = { ...fired, subject: 'primary', previousSeverity: 'warning' }
    const results = await deliver(sinks, [fired, escalated, resolved], { clock: new AutoClock(at), log: memoryLog() })
    expect(results.filter((r) => r.sink === 'alertmanager').every((r) => r.ok)).toBe(true)
    const [first, second, third] = am.requests.map((r) => r.json as Record<string, any>[])
    expect(first).toEqual([
      {
        labels: { alertname: 'failure-rate', severity: 'critical', source: 'lora', profile: 'prod' },
        annotations: { summary: fired.message, fingerprint: fired.fingerprint, value: '25', threshold: '20' },
        startsAt: at.toISOString(),
        endsAt: new Date(at.getTime() + 8 * 3_600_000).toISOString(),
      },
    ])
    expect(second!.map((a) => [a.labels.severity, a.labels.subject, a.endsAt])).toEqual([
      ['critical', 'primary', new Date(at.getTime() + 8 * 3_600_000).toISOString()],
      ['warning', 'primary', at.toISOString()],
    ])
    expect(third![0]!.endsAt).toBe(resolved.endsAt!.toISOString())
  })

  it('retries a 5xx with backoff on the injected clock, honours Retry-After, and gives up on a 4xx at once', async () => {
    const slack = await receiver(slackProblem)
    slack.respond({ status: 503, body: 'busy' }, { status: 500 }, { status: 200, body: 'ok' })
    const clock = new AutoClock(at)
    const log = memoryLog()
    const sinks = sinksFor({ slack: { webhookUrl: slack.url, minSeverity: 'info' } })
    const [, result] = await deliver(sinks, [fired], { clock, log })
    expect(result).toMatchObject({ sink: 'slack', ok: true, attempts: 3, status: 200 })
    expect(clock.sleeps).toEqual([1_000, 2_000])
    expect(log.lines.filter((l) => l.startsWith('warn'))).toEqual([
      'warn alert sink slack failed (attempt 1 of 4): HTTP 503: busy; retrying in 1000 ms',
      'warn alert sink slack failed (attempt 2 of 4): HTTP 500; retrying in 2000 ms',
    ])

    slack.respond({ status: 429, headers: { 'retry-after': '3' } }, { status: 200, body: 'ok' })
    const throttled = new AutoClock(at)
    expect((await deliver(sinks, [fired], { clock: throttled, log }))[1]).toMatchObject({ ok: true, attempts: 2 })
    expect(throttled.sleeps).toEqual([3_000])

    slack.respond({ status: 404, body: 'no_service' })
    const gone = new AutoClock(at)
    expect((await deliver(sinks, [fired], { clock: gone, log }))[1]).toMatchObject({ ok: false, attempts: 1, status: 404, error: 'HTTP 404: no_service' })
    expect(gone.sleeps).toEqual([])
  })

  it('a sink that keeps failing (down, or refusing connections) never stops the others nor throws', async () => {
    const down = await receiver()
    down.respond({ status: 502 })
    const slack = await receiver(slackProblem)
    const closed = await receiver()
    const refusedUrl = closed.url
    await closed.close()
    receivers.splice(receivers.indexOf(closed), 1)
    const clock = new AutoClock(at)
    const log = memoryLog()
    const sinks = sinksFor({
      slack: { webhookUrl: slack.url, minSeverity: 'info' },
      webhook: { url: refusedUrl, minSeverity: 'info' },
      alertmanager: { url: down.url, minSeverity: 'info' },
    })
    const results = await deliver(sinks, [fired], { clock, log })
    expect(Object.fromEntries(results.map((r) => [r.sink, [r.ok, r.attempts]]))).toEqual({
      log: [true, 1],
      slack: [true, 1],
      webhook: [false, 4],
      alertmanager: [false, 4],
    })
    expect(results.find((r) => r.sink === 'webhook')!.error).toBe('ECONNREFUSED')
    expect(down.requests).toHaveLength(4)
    expect(slack.requests).toHaveLength(1)
    expect(log.lines.filter((l) => l.startsWith('error alert sink'))).toEqual([
      'error alert sink webhook failed to send fired failure-rate after 4 attempts: ECONNREFUSED',
      'error alert sink alertmanager failed to send fired failure-rate after 4 attempts: HTTP 502',
    ])
  })
})
