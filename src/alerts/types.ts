import type { AlertSeverity } from '../db/queries/alerts.js'

export type { AlertSeverity }

export const SEVERITY_RANK: Record<AlertSeverity, number> = { info: 0, warning: 1, critical: 2 }

/** What a rule sees as true now: one alert per rule and subject. */
export interface Observation {
  rule: string
  /** What the alert is about: a job id, a cluster name; '' for the platform as a whole. */
  subject: string
  severity: AlertSeverity
  message: string
  value?: number | null
  threshold?: number | null
  /** The condition must hold this long before the alert fires (queue depth: 30 min). */
  forMs?: number
  source: 'rule' | 'pushed'
}

export type NotificationKind = 'fired' | 'repeated' | 'resolved' | 'test' | 'summary'

/** What a sink is given to send. */
export interface AlertNotification {
  kind: NotificationKind
  fingerprint: string
  rule: string
  subject: string
  severity: AlertSeverity
  message: string
  value: number | null
  threshold: number | null
  /** When the alert started firing. */
  startsAt: Date
  /** When it resolved (resolved notifications only). */
  endsAt: Date | null
  /** When this notification was decided. */
  at: Date
  /** The severity notified before, when this notification is an escalation. */
  previousSeverity?: AlertSeverity
  /** The daily summary's figures, and other structured details. */
  details?: Record<string, unknown>
}

export const SINK_NAMES = ['log', 'slack', 'pagerduty', 'webhook', 'alertmanager'] as const
export type SinkName = (typeof SINK_NAMES)[number]

export interface DeliveryResult {
  sink: SinkName
  fingerprint: string
  kind: NotificationKind
  ok: boolean
  attempts: number
  /** The HTTP status of the last attempt, when there was one. */
  status?: number
  error?: string
}
