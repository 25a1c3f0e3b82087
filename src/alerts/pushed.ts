import type { Context } from '../context.js'
import { listActiveSilences, lockAlertState, readOpenAlertStates, writeAlertStates } from '../db/queries/alerts.js'
import { decide, fingerprintOf } from './state.js'
import { decideAll, notificationOf, resolvedNotification, setup, writeDecisions, type Decided, type Setup } from './pipeline.js'
import { defaultLogWriter, deliver, type LogWriter } from './sinks/index.js'
import type { AlertNotification, AlertSeverity, DeliveryResult, Observation } from './types.js'

/**
 * A pushed alert (database errors, cleanup failures) resolves once not raised for this
 * long: longer than the hourly cleanups take to raise a failure that persists again.
 */
export const PUSHED_QUIET_MS = 2 * 60 * 60_000
/** raiseAlert waits this long for the database before notifying from memory. */
export const RAISE_DB_TIMEOUT_MS = 5_000

export interface RaisedAlert {
  rule: string
  subject?: string
  severity: AlertSeverity
  message: string
  value?: number | null
  threshold?: number | null
}

export interface RaiseResult {
  fingerprint: string
  /** What was notified: 'fired' the first time, 'repeated' after the repeat interval, null otherwise. */
  notified: 'fired' | 'repeated' | null
  /** False when the database could not be reached: deduplicated in this process only. */
  stored: boolean
  deliveries: DeliveryResult[]
}

/** An alert notified while its state could not be stored: what a later resolve needs. */
interface HeldAlert {
  alert: RaisedAlert & { subject: string }
  firstNotifiedAt: number
  lastNotifiedAt: number
}

/** Per context (a daemon holds one): fingerprint -> the alert notified without the database. */
const notifiedInMemory = new WeakMap<Context, Map<string, HeldAlert>>()
const memoryOf = (ctx: Context) => {
  let m = notifiedInMemory.get(ctx)
  if (!m) notifiedInMemory.set(ctx, (m = new Map()))
  return m
}

/**
 * An alert the daemon pushes (database errors, cleanup failures). It goes through the
 * same state machine as the evaluated rules, so it fires once and repeats at the
 * interval; it resolves once not raised for PUSHED_QUIET_MS (or by resolveAlert).
 * When the database is down it is still logged, and sent to the sinks at most once
 * per repeat interval by this process.
 */
export async function raiseAlert(ctx: Context, alert: RaisedAlert, options: { log?: LogWriter } = {}): Promise<RaiseResult> {
  const subject = alert.subject ?? ''
  const fingerprint = fingerprintOf(alert.rule, subject)
  const now = ctx.clock.now()
  let s: Setup
  try {
    s = await setup(ctx, options.log)
  } catch (error) {
    const log = options.log ?? defaultLogWriter(ctx.io, ctx.clock)
    log.error(`alert ${alert.rule}${subject ? ` (${subject})` : ''}: ${alert.message}`, { rule: alert.rule, subject, severity: alert.severity, config_error: (error as Error).message })
    return { fingerprint, notified: null, stored: false, deliveries: [] }
  }
  const observation: Observation = {
    rule: alert.rule,
    subject,
    severity: alert.severity,
    message: alert.message,
    value: alert.value ?? null,
    threshold: alert.threshold ?? null,
    source: 'pushed',
  }

  let decided: Decided | null = null
  let stored = false
  try {
    decided = await withTimeout(RAISE_DB_TIMEOUT_MS, async () => {
      const db = await ctx.db()
      const silences = await listActiveSilences(db, now)
      return db.transaction(async (tx) => {
        await lockAlertState(tx)
        const [d] = (await decideAll(tx, [observation], () => false, silences, now, s.alerts.repeatIntervalMs)).list
        await writeDecisions(tx, [d!])
        return d!
      })
    })
    stored = true
  } catch (error) {
    s.log.warn(`alert state not stored (${(error as Error).message}): deduplicating in this process`, { rule: alert.rule, fingerprint })
  }

  let notification: AlertNotification | null
  if (decided) {
    notification = notificationOf(decided.decision, decided.prev, now)
    // Announced from memory during the outage: not announced twice; the stored row
    // (notified) carries it from here, and resolves like any other.
    const memory = memoryOf(ctx)
    if (memory.has(fingerprint)) {
      if (notification?.kind === 'fired' && (!decided.prev || decided.prev.status === 'resolved')) notification = null
      memory.delete(fingerprint)
    }
  } else {
    const memory = memoryOf(ctx)
    const held = memory.get(fingerprint)
    const kind = held === undefined ? 'fired' : now.getTime() - held.lastNotifiedAt >= s.alerts.repeatIntervalMs ? 'repeated' : null
    const firstNotifiedAt = held?.firstNotifiedAt ?? now.getTime()
    // Kept until resolveAlert reconciles it with the stored state and sends the resolve.
    memory.set(fingerprint, { alert: { ...alert, subject }, firstNotifiedAt, lastNotifiedAt: kind ? now.getTime() : (held?.lastNotifiedAt ?? now.getTime()) })
    notification = kind
      ? { kind, fingerprint, rule: alert.rule, subject, severity: alert.severity, message: alert.message, value: observation.value!, threshold: observation.threshold!, startsAt: new Date(firstNotifiedAt), endsAt: null, at: now }
      : null
  }
  if (!notification) {
    // Not notified again (already announced, or silenced): still one log line per raise.
    const level = alert.severity === 'critical' ? 'error' : alert.severity === 'warning' ? 'warn' : 'info'
    s.log[level](`alert ${alert.rule}${subject ? ` (${subject})` : ''} raised again: ${alert.message}`, {
      event: 'alert.raised',
      fingerprint,
      rule: alert.rule,
      subject,
      severity: alert.severity,
      silenced: decided?.decision.silenced ?? false,
    })
    return { fingerprint, notified: null, stored, deliveries: [] }
  }
  const deliveries = await deliver(s.sinks, [notification], { clock: ctx.clock, log: s.log, signal: ctx.signal })
  return { fingerprint, notified: notification.kind as 'fired' | 'repeated', stored, deliveries }
}

/**
 * Resolves a pushed alert now (the daemon reconnected), notifying if it was announced:
 * in the stored state, or only from this process's memory during an outage. Memory is
 * reconciled with alert_state: an alert held only in memory gets a resolved row, and
 * its resolve is sent once. Throws (keeping the memory) while the database is down.
 */
export async function resolveAlert(ctx: Context, alert: { rule: string; subject?: string }, options: { log?: LogWriter } = {}): Promise<{ resolved: boolean; deliveries: DeliveryResult[] }> {
  const s = await setup(ctx, options.log)
  const db = await ctx.db()
  const now = ctx.clock.now()
  const fingerprint = fingerprintOf(alert.rule, alert.subject ?? '')
  const held = memoryOf(ctx).get(fingerprint)
  const outcome = await db.transaction(async (tx): Promise<{ n: AlertNotification | null } | null> => {
    await lockAlertState(tx)
    const [row] = (await readOpenAlertStates(tx, [fingerprint])).filter((r) => r.fingerprint === fingerprint)
    if (row?.status === 'firing') {
      const d: Decided = { prev: row, decision: decide(row, null, now, { repeatIntervalMs: s.alerts.repeatIntervalMs, silenced: false }) }
      await writeDecisions(tx, [d])
      // Announced from memory only (the row was written before the outage, unnotified): still resolved at the sinks.
      if (!d.decision.notify && held) return { n: resolvedNotification(row, new Date(held.firstNotifiedAt), now) }
      return { n: notificationOf(d.decision, d.prev, now) }
    }
    if (!held) return null
    const a = held.alert
    const firedAt = new Date(held.firstNotifiedAt)
    await writeAlertStates(tx, [{
      fingerprint, rule: a.rule, subject: a.subject, severity: a.severity, status: 'resolved', value: a.value ?? null, threshold: a.threshold ?? null,
      message: a.message, first_fired_at: firedAt, last_notified_at: new Date(held.lastNotifiedAt), resolved_at: now, updated_at: now,
      active_since: firedAt, notified_severity: a.severity, source: 'pushed', notifications: 1,
    }])
    return { n: resolvedNotification({ fingerprint, ...a, value: a.value ?? null, threshold: a.threshold ?? null }, firedAt, now) }
  })
  memoryOf(ctx).delete(fingerprint)
  if (!outcome) return { resolved: false, deliveries: [] }
  return { resolved: true, deliveries: outcome.n ? await deliver(s.sinks, [outcome.n], { clock: ctx.clock, log: s.log, signal: ctx.signal }) : [] }
}

/**
 * Waiting on the database is socket time, so the deadline is a real timer (as the
 * cluster client's request deadline is); the injected clock governs the alert logic.
 */
async function withTimeout<T>(ms: number, fn: () => Promise<T>): Promise<T> {
  const deadline = AbortSignal.timeout(ms)
  const timedOut = new Promise<never>((_, reject) =>
    deadline.addEventListener('abort', () => reject(new Error(`the database did not answer within ${ms} ms`)), { once: true }),
  )
  timedOut.catch(() => {})
  return Promise.race([fn(), timedOut])
}
