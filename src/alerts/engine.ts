import type { Context } from '../context.js'
import type { AlertStateRow } from '../db/queries/alerts.js'
import { listActiveSilences, lockAlertState } from '../db/queries/alerts.js'
import { EVALUATED_RULES } from './rules.js'
import { decideAll, notificationOf, send, setup, viewOf, writeDecisions, type AlertView, type Decided } from './pipeline.js'
import { PUSHED_QUIET_MS } from './pushed.js'
import type { LogWriter } from './sinks/index.js'
import type { AlertNotification, AlertSeverity, DeliveryResult } from './types.js'

/**
 * The alert engine: evaluateAlerts (every rule, from the database), raiseAlert and
 * resolveAlert (what the daemon pushes), dailySummary (the daemon's 09:00 report).
 */
export { raiseAlert, resolveAlert, PUSHED_QUIET_MS, RAISE_DB_TIMEOUT_MS, type RaisedAlert, type RaiseResult } from './pushed.js'
export { dailySummary, sendTestAlert } from './reports.js'
export { flushAlertDeliveries, type AlertView } from './pipeline.js'
export type { AlertSeverity, DeliveryResult, LogWriter }

export interface AlertEvaluation {
  dryRun: boolean
  evaluatedAt: Date
  /** Alerts firing after this evaluation. */
  firing: number
  pending: number
  notified: { fired: number; repeated: number; resolved: number }
  /** Firing alerts whose notifications a silence holds back. */
  silenced: number
  /** Firing and pending alerts, and those this evaluation resolved. */
  alerts: AlertView[]
  /** Rules that could not be evaluated (their alerts are left as they were). */
  errors: { rule: string; message: string }[]
  deliveries: DeliveryResult[]
}

export interface EvaluateOptions {
  dryRun?: boolean
  /** The daemon's logger; otherwise structured lines on stderr. */
  log?: LogWriter
  /**
   * false: return once the state is written and let the sinks deliver in the
   * background (retries included); flushAlertDeliveries() waits for them.
   */
  awaitDelivery?: boolean
}

/**
 * One evaluation of every rule against the database, then the state machine of each
 * alert (state.ts) under an advisory lock, then the notifications to every sink.
 * Any number of daemons may call it at once: a notification is claimed by the one
 * transaction that moves the state, and sent by that caller only. A rule whose query
 * fails is reported in `errors` and its alerts are left as they were.
 */
export async function evaluateAlerts(ctx: Context, options: EvaluateOptions = {}): Promise<AlertEvaluation> {
  const s = await setup(ctx, options.log)
  const db = await ctx.db()
  const now = ctx.clock.now()
  const input = { db, config: s.config, alerts: s.alerts, now }
  const results = await Promise.all(
    EVALUATED_RULES.map(async (rule) => {
      try {
        return { rule: rule.name, ...(await rule.evaluate(input)), error: null }
      } catch (error) {
        return { rule: rule.name, observations: [], complete: false, error: (error as Error).message }
      }
    }),
  )
  const errors = results.filter((r) => r.error !== null).map((r) => ({ rule: r.rule, message: r.error! }))
  for (const e of errors) s.log.warn(`alert rule ${e.rule} could not be evaluated: ${e.message}`, { rule: e.rule })
  const observations = results.flatMap((r) => r.observations)
  const resolvableRules = new Set(results.filter((r) => r.error === null && r.complete).map((r) => r.rule))
  const resolvable = (row: AlertStateRow) =>
    row.source === 'pushed' ? now.getTime() - row.updated_at.getTime() >= PUSHED_QUIET_MS : resolvableRules.has(row.rule)
  const silences = await listActiveSilences(db, now)

  const decided = options.dryRun
    ? await decideAll(db, observations, resolvable, silences, now, s.alerts.repeatIntervalMs)
    : await db.transaction(async (tx) => {
        await lockAlertState(tx)
        const d = await decideAll(tx, observations, resolvable, silences, now, s.alerts.repeatIntervalMs)
        await writeDecisions(tx, d.list)
        return d
      })

  const notifications = decided.list.map((d) => notificationOf(d.decision, d.prev, now)).filter((n): n is AlertNotification => n !== null)
  const deliveries = options.dryRun ? [] : await send(ctx, s, notifications, options.awaitDelivery ?? true)

  // The state after this evaluation: what it decided, and the open alerts it left alone.
  const decidedFingerprints = new Set(decided.list.map((d) => fingerprintOfDecided(d)))
  const untouched = decided.states.filter((r) => r.status !== 'resolved' && !decidedFingerprints.has(r.fingerprint))
  const views = [
    ...decided.list.map((d) => viewOf(d, silences)),
    ...untouched.map((r) => viewOf({ prev: r, decision: { next: null, notify: null, silenced: false } }, silences)),
  ].filter((v): v is AlertView => v !== null)
  const count = (kind: string) => decided.list.filter((d) => d.decision.notify === kind).length
  return {
    dryRun: Boolean(options.dryRun),
    evaluatedAt: now,
    firing: views.filter((v) => v.status === 'firing').length,
    pending: views.filter((v) => v.status === 'pending').length,
    notified: { fired: count('fired'), repeated: count('repeated'), resolved: count('resolved') },
    silenced: decided.list.filter((d) => d.decision.silenced).length,
    alerts: sortViews(views),
    errors,
    deliveries,
  }
}

function fingerprintOfDecided(d: Decided): string {
  const row = d.decision.next === 'delete' || d.decision.next === null ? d.prev! : d.decision.next
  return row.fingerprint
}

const STATUS_ORDER = { firing: 0, pending: 1, resolved: 2 } as const
const SEVERITY_ORDER = { critical: 0, warning: 1, info: 2 } as const

function sortViews(views: AlertView[]): AlertView[] {
  return views.sort(
    (a, b) =>
      STATUS_ORDER[a.status] - STATUS_ORDER[b.status] ||
      SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity] ||
      a.rule.localeCompare(b.rule) ||
      a.subject.localeCompare(b.subject),
  )
}
