import type { Context } from '../context.js'
import { computeDailySummary, summaryText, type DailySummary } from '../metrics/summary.js'
import { setup } from './pipeline.js'
import { deliver, logNotification, type LogWriter, type Sink } from './sinks/index.js'
import type { AlertNotification, DeliveryResult } from './types.js'

/**
 * The daily summary (seed 000), for the daemon's 09:00 task: computed for the UTC day
 * before now, logged, and sent as an info notification to every sink that takes info
 * (Slack and the webhook by default; PagerDuty and Alertmanager do not).
 */
export async function dailySummary(ctx: Context, options: { log?: LogWriter } = {}): Promise<{ summary: DailySummary; text: string; deliveries: DeliveryResult[] }> {
  const s = await setup(ctx, options.log)
  const db = await ctx.db()
  const now = ctx.clock.now()
  const summary = await computeDailySummary({ db, config: s.config, now })
  const text = summaryText(summary)
  const notification: AlertNotification = {
    kind: 'summary',
    fingerprint: `daily-summary-${summary.date}`,
    rule: 'daily-summary',
    subject: summary.date,
    severity: 'info',
    message: text,
    value: null,
    threshold: null,
    startsAt: now,
    endsAt: null,
    at: now,
    details: summary as unknown as Record<string, unknown>,
  }
  const deliveries = await deliver(s.sinks, [notification], { clock: ctx.clock, log: s.log, signal: ctx.signal })
  return { summary, text, deliveries }
}

/** `lora alerts test SINK`: one test notification to that sink alone (PagerDuty and Alertmanager then resolve it). */
export async function sendTestAlert(ctx: Context, sinkName: string, options: { log?: LogWriter } = {}): Promise<DeliveryResult[]> {
  const s = await setup(ctx, options.log)
  const sink = s.sinks.find((k) => k.name === sinkName)
  if (!sink) throw new Error(`sink ${sinkName} is not configured`)
  const now = ctx.clock.now()
  const test: AlertNotification = {
    kind: 'test',
    fingerprint: `lora-test-${now.getTime()}`,
    rule: 'lora-test',
    subject: '',
    severity: 'info',
    message: `Test alert from lora (profile ${s.config.profile}): if you read this, the ${sinkName} sink works.`,
    value: null,
    threshold: null,
    startsAt: now,
    endsAt: null,
    at: now,
  }
  const deps = { clock: ctx.clock, log: s.log, signal: ctx.signal }
  if (sink.name === 'log') {
    logNotification(s.log, test)
    return [{ sink: 'log', fingerprint: test.fingerprint, kind: 'test', ok: true, attempts: 1 }]
  }
  // A test goes to the sink whatever severity it takes.
  const forced: Sink = { ...sink, minSeverity: 'info' }
  const results = await deliver([forced], [test], deps)
  if (results.every((r) => r.ok) && (sink.name === 'pagerduty' || sink.name === 'alertmanager')) {
    results.push(...(await deliver([forced], [{ ...test, kind: 'resolved', endsAt: now }], deps)))
  }
  return results
}
