import { createHash } from 'node:crypto'
import type { AlertStateRow } from '../db/queries/alerts.js'
import { SEVERITY_RANK, type AlertSeverity, type Observation } from './types.js'

/** Stable per rule and subject; PagerDuty's dedup_key and Alertmanager's identity. */
export function fingerprintOf(rule: string, subject: string): string {
  return `${rule}-${createHash('sha256').update(`${rule}\n${subject}`).digest('hex').slice(0, 12)}`
}

export type NotifyKind = 'fired' | 'repeated' | 'resolved'

export interface Decision {
  /** The row to write; 'delete' forgets a pending alert whose condition went away; null changes nothing. */
  next: AlertStateRow | 'delete' | null
  notify: NotifyKind | null
  /** The alert is firing but a silence holds back its notification. */
  silenced: boolean
  /** For an escalation: the severity notified before. */
  previousSeverity?: AlertSeverity
}

export interface DecideOptions {
  repeatIntervalMs: number
  silenced: boolean
}

/**
 * The state machine of one alert, pure so that `--dry-run` and the real evaluation
 * decide alike:
 *
 *   (none|resolved) --holds--> pending --held forMs--> firing   (notify "fired")
 *   (none|resolved) --holds, no hold time-----------> firing   (notify "fired")
 *   firing --still holds, repeat interval passed--> firing     (notify "repeated")
 *   firing --still holds, severity rose-----------> firing     (notify "fired" again)
 *   firing --no longer holds----------------------> resolved   (notify "resolved" if it was announced)
 *   pending --no longer holds---------------------> (forgotten)
 *
 * A silence holds back "fired" and "repeated"; an alert first announced after its
 * silence ends is announced as "fired". A resolve is sent whenever the firing was
 * announced, silenced or not, so that PagerDuty and Alertmanager do not keep an
 * incident open for something that is over.
 */
export function decide(prev: AlertStateRow | null, obs: Observation | null, now: Date, options: DecideOptions): Decision {
  if (!obs) {
    if (!prev || prev.status === 'resolved') return { next: null, notify: null, silenced: false }
    if (prev.status === 'pending') return { next: 'delete', notify: null, silenced: false }
    const next: AlertStateRow = { ...prev, status: 'resolved', resolved_at: now, updated_at: now }
    return { next, notify: prev.last_notified_at ? 'resolved' : null, silenced: false }
  }

  const base = {
    fingerprint: fingerprintOf(obs.rule, obs.subject),
    rule: obs.rule,
    subject: obs.subject,
    severity: obs.severity,
    value: obs.value ?? null,
    threshold: obs.threshold ?? null,
    message: obs.message,
    source: obs.source,
    updated_at: now,
  }
  const holdMs = obs.forMs ?? 0

  const fire = (activeSince: Date): Decision => {
    const firing: AlertStateRow = {
      ...base,
      status: 'firing',
      active_since: activeSince,
      first_fired_at: now,
      resolved_at: null,
      last_notified_at: null,
      notified_severity: null,
      notifications: 0,
    }
    if (options.silenced) return { next: firing, notify: null, silenced: true }
    return { next: { ...firing, last_notified_at: now, notified_severity: obs.severity, notifications: 1 }, notify: 'fired', silenced: false }
  }

  if (!prev || prev.status === 'resolved') {
    if (holdMs > 0) {
      return {
        next: {
          ...base,
          status: 'pending',
          active_since: now,
          first_fired_at: null,
          last_notified_at: null,
          resolved_at: null,
          notified_severity: null,
          notifications: 0,
        },
        notify: null,
        silenced: false,
      }
    }
    return fire(now)
  }

  if (prev.status === 'pending') {
    const since = prev.active_since ?? now
    if (now.getTime() - since.getTime() >= holdMs) return fire(since)
    return { next: { ...prev, ...base, status: 'pending' }, notify: null, silenced: false }
  }

  // Firing, and still holds.
  const next: AlertStateRow = { ...prev, ...base, status: 'firing' }
  if (options.silenced) return { next, notify: null, silenced: true }
  const announce = (kind: NotifyKind, previousSeverity?: AlertSeverity): Decision => ({
    next: { ...next, last_notified_at: now, notified_severity: obs.severity, notifications: prev.notifications + 1 },
    notify: kind,
    silenced: false,
    ...(previousSeverity ? { previousSeverity } : {}),
  })
  if (!prev.last_notified_at) return announce('fired')
  const notified = prev.notified_severity ?? prev.severity
  if (SEVERITY_RANK[obs.severity] > SEVERITY_RANK[notified]) return announce('fired', notified)
  if (now.getTime() - prev.last_notified_at.getTime() >= options.repeatIntervalMs) return announce('repeated')
  return { next, notify: null, silenced: false }
}

/** Does a silence cover this rule and subject? A silence without a subject covers every subject. */
export function isSilenced(silences: { rule: string; subject: string | null }[], rule: string, subject: string): boolean {
  return silences.some((s) => s.rule === rule && (s.subject === null || s.subject === subject))
}
