import type { Context } from '../context.js'
import type { Queryable } from '../db/types.js'
import { alertsConfig, type AlertsConfig, type ResolvedConfig } from '../config/schema.js'
import { readOpenAlertStates, writeAlertStates, deleteAlertStates, type AlertStateRow, type SilenceRow } from '../db/queries/alerts.js'
import { decide, fingerprintOf, isSilenced, type Decision } from './state.js'
import { resolvedMessage } from './rules.js'
import { buildSinks, defaultLogWriter, deliver, type LogWriter, type Sink } from './sinks/index.js'
import type { AlertNotification, AlertSeverity, DeliveryResult, Observation } from './types.js'

/**
 * What evaluateAlerts, raiseAlert and the reports share: the sinks of the profile,
 * deciding every alert's transition from the stored state, writing the decisions,
 * and turning them into notifications.
 */

export interface AlertView {
  fingerprint: string
  rule: string
  subject: string
  severity: AlertSeverity
  status: 'pending' | 'firing' | 'resolved'
  message: string
  value: number | null
  threshold: number | null
  /** Firing since (pending: holding since). */
  since: Date | null
  last_notified_at: Date | null
  silenced: boolean
  /** What this evaluation notified (or, in a dry run, would notify). */
  notify: 'fired' | 'repeated' | 'resolved' | null
}

export interface Setup {
  config: ResolvedConfig
  alerts: AlertsConfig
  sinks: Sink[]
  log: LogWriter
}

export async function setup(ctx: Context, log?: LogWriter): Promise<Setup> {
  const config = await ctx.config()
  const alerts = alertsConfig(config)
  const sinks = buildSinks(alerts, { profile: config.profile, alertmanagerHoldMs: 2 * alerts.repeatIntervalMs })
  return { config, alerts, sinks, log: log ?? defaultLogWriter(ctx.io, ctx.clock) }
}

const background = new Set<Promise<unknown>>()

/** Waits for deliveries started with awaitDelivery: false (a daemon stopping). */
export async function flushAlertDeliveries(): Promise<void> {
  while (background.size > 0) await Promise.allSettled([...background])
}

export async function send(ctx: Context, s: Setup, notifications: AlertNotification[], awaitDelivery: boolean): Promise<DeliveryResult[]> {
  if (notifications.length === 0) return []
  // deliver() reports failures rather than throwing; should it throw all the same, the
  // notifications are logged as lost instead of becoming an unhandled rejection.
  const run = deliver(s.sinks, notifications, { clock: ctx.clock, log: s.log, signal: ctx.signal }).catch((error: unknown) => {
    s.log.error(`alert notifications not delivered: ${(error as Error).message}`, { fingerprints: notifications.map((n) => n.fingerprint) })
    return [] as DeliveryResult[]
  })
  if (awaitDelivery) return run
  const tracked: Promise<unknown> = run.finally(() => background.delete(tracked))
  background.add(tracked)
  return []
}

export function notificationOf(decision: Decision, prev: AlertStateRow | null, now: Date): AlertNotification | null {
  if (!decision.notify) return null
  if (decision.notify === 'resolved') {
    const p = prev!
    return resolvedNotification(p, p.first_fired_at ?? p.active_since ?? now, now)
  }
  const n = decision.next as AlertStateRow
  return {
    kind: decision.notify,
    fingerprint: n.fingerprint,
    rule: n.rule,
    subject: n.subject,
    severity: n.severity,
    message: n.message,
    value: n.value,
    threshold: n.threshold,
    startsAt: n.first_fired_at ?? now,
    endsAt: null,
    at: now,
    ...(decision.previousSeverity ? { previousSeverity: decision.previousSeverity } : {}),
  }
}

/** A resolved notification: its text says what changed and for how long; the firing text goes in details. */
export function resolvedNotification(
  a: { fingerprint: string; rule: string; subject: string; severity: AlertSeverity; notified_severity?: AlertSeverity | null; message: string; value: number | null; threshold: number | null },
  startsAt: Date,
  now: Date,
): AlertNotification {
  return {
    kind: 'resolved',
    fingerprint: a.fingerprint,
    rule: a.rule,
    subject: a.subject,
    severity: a.notified_severity ?? a.severity,
    message: resolvedMessage(a.rule, a.subject, startsAt, now),
    value: a.value,
    threshold: a.threshold,
    startsAt,
    endsAt: now,
    at: now,
    details: { firing_message: a.message },
  }
}

export interface Decided {
  prev: AlertStateRow | null
  decision: Decision
}

/** Reads the open alert state and decides every transition; writes nothing. */
export async function decideAll(
  q: Queryable,
  observations: Observation[],
  resolvable: (row: AlertStateRow) => boolean,
  silences: SilenceRow[],
  now: Date,
  repeatIntervalMs: number,
): Promise<{ list: Decided[]; states: AlertStateRow[] }> {
  const byFingerprint = new Map<string, Observation>()
  for (const o of observations) byFingerprint.set(fingerprintOf(o.rule, o.subject), o)
  const states = await readOpenAlertStates(q, [...byFingerprint.keys()])
  const current = new Map(states.map((s) => [s.fingerprint, s]))
  const decided: Decided[] = []
  for (const [fingerprint, o] of byFingerprint) {
    const prev = current.get(fingerprint) ?? null
    decided.push({ prev, decision: decide(prev, o, now, { repeatIntervalMs, silenced: isSilenced(silences, o.rule, o.subject) }) })
  }
  for (const row of states) {
    if (byFingerprint.has(row.fingerprint) || row.status === 'resolved' || !resolvable(row)) continue
    decided.push({ prev: row, decision: decide(row, null, now, { repeatIntervalMs, silenced: isSilenced(silences, row.rule, row.subject) }) })
  }
  return { list: decided, states }
}

export async function writeDecisions(tx: Queryable, decided: Decided[]): Promise<void> {
  const rows = decided.map((d) => d.decision.next).filter((n): n is AlertStateRow => n !== null && n !== 'delete')
  const deleted = decided.filter((d) => d.decision.next === 'delete').map((d) => d.prev!.fingerprint)
  await writeAlertStates(tx, rows)
  await deleteAlertStates(tx, deleted)
}

export function viewOf(d: Decided, silences: SilenceRow[]): AlertView | null {
  const row = d.decision.next === 'delete' ? null : (d.decision.next ?? d.prev)
  if (!row) return null
  return {
    fingerprint: row.fingerprint,
    rule: row.rule,
    subject: row.subject,
    severity: row.severity,
    status: row.status,
    message: row.message,
    value: row.value,
    threshold: row.threshold,
    since: row.status === 'pending' ? row.active_since : row.first_fired_at,
    last_notified_at: row.last_notified_at,
    silenced: row.status !== 'resolved' && isSilenced(silences, row.rule, row.subject),
    notify: d.decision.notify,
  }
}
