import { createHmac } from 'node:crypto'
import type { AlertNotification } from '../types.js'
import type { HttpRequest } from './http.js'

/** The context every payload names: which platform sent it. */
export interface PayloadContext {
  profile: string
  /** Alertmanager forgets a firing alert at endsAt unless it is sent again: this long after each notification. */
  alertmanagerHoldMs: number
}

const TITLES: Record<AlertNotification['kind'], string> = {
  fired: 'FIRING',
  repeated: 'STILL FIRING',
  resolved: 'RESOLVED',
  test: 'TEST',
  summary: 'SUMMARY',
}

const clip = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`)

export function headline(n: AlertNotification): string {
  if (n.kind === 'summary') return n.message.split('\n')[0]!
  const what = n.subject ? `${n.rule} (${n.subject})` : n.rule
  const escalated = n.previousSeverity ? ` (was ${n.previousSeverity})` : ''
  return `[${TITLES[n.kind]}] ${n.severity}${escalated}: ${what}`
}

/** Slack incoming webhook: `text` (the notification's fallback) and Block Kit blocks. */
export function slackRequest(n: AlertNotification, webhookUrl: string, ctx: PayloadContext): HttpRequest {
  const text = n.kind === 'summary' ? n.message : `${headline(n)}: ${n.message}`
  const when =
    n.kind === 'resolved' && n.endsAt
      ? `resolved at ${n.endsAt.toISOString()} (firing since ${n.startsAt.toISOString()})`
      : `since ${n.startsAt.toISOString()}`
  const blocks =
    n.kind === 'summary'
      ? [
          { type: 'header', text: { type: 'plain_text', text: clip(headline(n), 150) } },
          { type: 'section', text: { type: 'mrkdwn', text: clip(n.message.split('\n').slice(1).join('\n') || n.message, 3000) } },
          { type: 'context', elements: [{ type: 'mrkdwn', text: `lora · profile ${ctx.profile}` }] },
        ]
      : [
          { type: 'header', text: { type: 'plain_text', text: clip(headline(n), 150) } },
          { type: 'section', text: { type: 'mrkdwn', text: clip(n.message, 3000) } },
          {
            type: 'context',
            elements: [{ type: 'mrkdwn', text: clip(`lora · profile ${ctx.profile} · ${when} · fingerprint \`${n.fingerprint}\``, 3000) }],
          },
        ]
  return { url: webhookUrl, body: JSON.stringify({ text: clip(text, 4000), blocks }), headers: {} }
}

/** PagerDuty Events API v2: trigger (and again on repeat: same dedup_key, same incident) or resolve. */
export function pagerDutyRequest(n: AlertNotification, routingKey: string, url: string, ctx: PayloadContext): HttpRequest {
  const dedupKey = n.fingerprint
  const event =
    n.kind === 'resolved'
      ? { routing_key: routingKey, event_action: 'resolve', dedup_key: dedupKey }
      : {
          routing_key: routingKey,
          event_action: 'trigger',
          dedup_key: dedupKey,
          client: 'lora',
          payload: {
            summary: clip(n.kind === 'summary' ? headline(n) : `${n.message}`, 1024),
            source: `lora/${ctx.profile}`,
            severity: n.severity,
            timestamp: n.at.toISOString(),
            ...(n.subject ? { component: n.subject } : {}),
            group: n.rule,
            class: n.rule,
            custom_details: {
              rule: n.rule,
              subject: n.subject,
              notification: n.kind,
              value: n.value,
              threshold: n.threshold,
              firing_since: n.startsAt.toISOString(),
              ...(n.previousSeverity ? { previous_severity: n.previousSeverity } : {}),
              ...(n.details ?? {}),
            },
          },
        }
  return { url, body: JSON.stringify(event), headers: {} }
}

/** The generic webhook: a documented JSON body, HMAC-SHA256-signed when a secret is set. */
export function webhookRequest(n: AlertNotification, url: string, secret: string | undefined, ctx: PayloadContext): HttpRequest {
  const body = JSON.stringify({
    version: 1,
    event: `alert.${n.kind}`,
    profile: ctx.profile,
    sent_at: n.at.toISOString(),
    alert: {
      fingerprint: n.fingerprint,
      rule: n.rule,
      subject: n.subject,
      severity: n.severity,
      status: n.kind === 'resolved' ? 'resolved' : 'firing',
      message: n.message,
      value: n.value,
      threshold: n.threshold,
      starts_at: n.startsAt.toISOString(),
      ends_at: n.endsAt ? n.endsAt.toISOString() : null,
      previous_severity: n.previousSeverity ?? null,
    },
    ...(n.details ? { details: n.details } : {}),
  })
  const headers: Record<string, string> = {
    'x-lora-event': `alert.${n.kind}`,
    // The same for every retry of one notification: receivers can drop duplicates.
    'x-lora-delivery': `${n.fingerprint}.${n.kind}.${n.at.getTime()}`,
  }
  // Signed at each attempt (the timestamp is the sending time): see webhookSignature.
  return { url, body, headers, ...(secret ? { sign: (now: Date) => ({ 'x-lora-signature': webhookSignature(body, secret, now) }) } : {}) }
}

/** How old a signed delivery may be before receivers refuse it as a replay (README). */
export const WEBHOOK_REPLAY_WINDOW_S = 300

/**
 * `t=<unix seconds>,v1=<hex HMAC-SHA256 of "t.body">`: the timestamp is signed with the
 * body, so a captured delivery cannot be replayed once the receiver's window (5 minutes)
 * has passed, nor given a fresh timestamp without the secret.
 */
export function webhookSignature(body: string, secret: string, now: Date): string {
  const t = Math.floor(now.getTime() / 1000)
  return `t=${t},v1=${createHmac('sha256', secret).update(`${t}.${body}`).digest('hex')}`
}

/** Prometheus Alertmanager API v2: POST /api/v2/alerts with a list of postable alerts. */
export function alertmanagerRequest(n: AlertNotification, baseUrl: string, ctx: PayloadContext): HttpRequest {
  const url = /\/api\/v2\/alerts\/?$/.test(baseUrl) ? baseUrl : `${baseUrl.replace(/\/+$/, '')}/api/v2/alerts`
  const labels = (severity: string) => ({
    alertname: n.rule,
    severity,
    ...(n.subject ? { subject: n.subject } : {}),
    source: 'lora',
    profile: ctx.profile,
  })
  const annotations: Record<string, string> = { summary: n.message, fingerprint: n.fingerprint }
  if (n.value !== null) annotations.value = String(n.value)
  if (n.threshold !== null) annotations.threshold = String(n.threshold)
  const endsAt = n.kind === 'resolved' ? (n.endsAt ?? n.at) : new Date(n.at.getTime() + ctx.alertmanagerHoldMs)
  const alerts = [{ labels: labels(n.severity), annotations, startsAt: n.startsAt.toISOString(), endsAt: endsAt.toISOString() }]
  // Severity is a label, so an escalated alert is a new Alertmanager alert: end the old one.
  if (n.previousSeverity) {
    alerts.push({ labels: labels(n.previousSeverity), annotations, startsAt: n.startsAt.toISOString(), endsAt: n.at.toISOString() })
  }
  return { url, body: JSON.stringify(alerts), headers: {} }
}
