import type { Queryable } from '../types.js'

export type AlertSeverity = 'info' | 'warning' | 'critical'
export type AlertStatus = 'pending' | 'firing' | 'resolved'

export interface AlertStateRow {
  fingerprint: string
  rule: string
  subject: string
  severity: AlertSeverity
  status: AlertStatus
  value: number | null
  threshold: number | null
  message: string
  first_fired_at: Date | null
  last_notified_at: Date | null
  resolved_at: Date | null
  updated_at: Date
  active_since: Date | null
  notified_severity: AlertSeverity | null
  source: 'rule' | 'pushed'
  notifications: number
}

/**
 * Every evaluator (daemons, `lora alerts evaluate`, raiseAlert) decides and writes
 * alert state under this transaction-scoped advisory lock: the second of two
 * concurrent evaluators reads what the first wrote, so a notification is claimed once.
 */
export const ALERTS_LOCK_KEY = 0x10a4_0007

const COLUMNS = `fingerprint, rule, subject, severity, status, value, threshold, message, first_fired_at,
  last_notified_at, resolved_at, updated_at, active_since, notified_severity, source, notifications`

export async function lockAlertState(tx: Queryable): Promise<void> {
  await tx.query('SELECT pg_advisory_xact_lock($1)', [ALERTS_LOCK_KEY])
}

/** The alerts that are pending or firing, and the rows of the given fingerprints whatever their state. */
export function readOpenAlertStates(q: Queryable, fingerprints: string[]): Promise<AlertStateRow[]> {
  return q.query<AlertStateRow>(
    `SELECT ${COLUMNS} FROM lora_ops.alert_state
      WHERE status IN ('pending', 'firing') OR fingerprint = ANY($1::text[])
      ORDER BY fingerprint`,
    [fingerprints],
  )
}

/** Writes decided states, one statement for all of them. */
export async function writeAlertStates(tx: Queryable, rows: AlertStateRow[]): Promise<void> {
  if (rows.length === 0) return
  await tx.query(
    `INSERT INTO lora_ops.alert_state (${COLUMNS})
     SELECT ${COLUMNS} FROM jsonb_to_recordset($1::jsonb) AS x(
       fingerprint text, rule text, subject text, severity text, status text, value float8, threshold float8,
       message text, first_fired_at timestamptz, last_notified_at timestamptz, resolved_at timestamptz,
       updated_at timestamptz, active_since timestamptz, notified_severity text, source text, notifications int)
     ON CONFLICT (fingerprint) DO UPDATE SET
       rule = EXCLUDED.rule, subject = EXCLUDED.subject, severity = EXCLUDED.severity, status = EXCLUDED.status,
       value = EXCLUDED.value, threshold = EXCLUDED.threshold, message = EXCLUDED.message,
       first_fired_at = EXCLUDED.first_fired_at, last_notified_at = EXCLUDED.last_notified_at,
       resolved_at = EXCLUDED.resolved_at, updated_at = EXCLUDED.updated_at, active_since = EXCLUDED.active_since,
       notified_severity = EXCLUDED.notified_severity, source = EXCLUDED.source, notifications = EXCLUDED.notifications`,
    [rows],
  )
}

export async function deleteAlertStates(tx: Queryable, fingerprints: string[]): Promise<void> {
  if (fingerprints.length === 0) return
  await tx.query('DELETE FROM lora_ops.alert_state WHERE fingerprint = ANY($1::text[])', [fingerprints])
}

export interface SilenceRow {
  id: string
  rule: string
  subject: string | null
  until: Date
  reason: string | null
  created_by: string
  created_at: Date
}

export function listActiveSilences(q: Queryable, now: Date): Promise<SilenceRow[]> {
  return q.query<SilenceRow>(
    'SELECT id, rule, subject, until, reason, created_by, created_at FROM lora_ops.alert_silences WHERE until > $1 ORDER BY until DESC, id',
    [now],
  )
}

export async function insertSilence(
  q: Queryable,
  silence: { rule: string; subject: string | null; until: Date; reason: string | null; createdBy: string },
  now: Date,
): Promise<SilenceRow> {
  const [row] = await q.query<SilenceRow>(
    `INSERT INTO lora_ops.alert_silences (rule, subject, until, reason, created_by, created_at)
     VALUES ($1, $2, $3, $4, $5, $6)
     RETURNING id, rule, subject, until, reason, created_by, created_at`,
    [silence.rule, silence.subject, silence.until, silence.reason, silence.createdBy, now],
  )
  return row!
}

/** Pending and firing alerts, and those resolved since `resolvedSince`. */
export function listAlertStates(q: Queryable, resolvedSince: Date): Promise<AlertStateRow[]> {
  return q.query<AlertStateRow>(
    `SELECT ${COLUMNS} FROM lora_ops.alert_state
      WHERE status IN ('pending', 'firing') OR (status = 'resolved' AND resolved_at > $1)
      ORDER BY CASE status WHEN 'firing' THEN 0 WHEN 'pending' THEN 1 ELSE 2 END,
               CASE severity WHEN 'critical' THEN 0 WHEN 'warning' THEN 1 ELSE 2 END,
               coalesce(first_fired_at, active_since, resolved_at) DESC, fingerprint`,
    [resolvedSince],
  )
}

/** Rules that have had an alert: the daemon may raise rules of its own. */
export async function listRulesSeen(q: Queryable): Promise<string[]> {
  const rows = await q.query<{ rule: string }>('SELECT DISTINCT rule FROM lora_ops.alert_state ORDER BY rule')
  return rows.map((r) => r.rule)
}

export async function countFiringAlerts(q: Queryable): Promise<number> {
  const [row] = await q.query<{ n: number }>(`SELECT count(*)::int AS n FROM lora_ops.alert_state WHERE status = 'firing'`)
  return row!.n
}
