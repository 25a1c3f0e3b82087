import type { Context } from '../context.js'
import { UsageError } from '../errors.js'
import { insertSilence, listActiveSilences, listAlertStates, listRulesSeen, type AlertStateRow, type SilenceRow } from '../db/queries/alerts.js'
import { actorName, recordAudit } from '../db/queries/audit.js'
import { formatDuration } from '../config/duration.js'
import { RULE_NAMES } from './rules.js'
import { isSilenced } from './state.js'

/** Resolved alerts stay in `alerts list` this long. */
export const RESOLVED_SHOWN_MS = 24 * 3_600_000
/** The longest silence: anything longer should be a threshold change, not a silence. */
export const MAX_SILENCE_MS = 30 * 24 * 3_600_000

export interface AlertListing {
  alerts: (AlertStateRow & { silenced_until: Date | null })[]
  silences: SilenceRow[]
}

/** Firing and pending alerts, those resolved in the last 24 h, and the silences in force. */
export async function listAlerts(ctx: Context): Promise<AlertListing> {
  const db = await ctx.db()
  const now = ctx.clock.now()
  const [rows, silences] = await Promise.all([listAlertStates(db, new Date(now.getTime() - RESOLVED_SHOWN_MS)), listActiveSilences(db, now)])
  return {
    alerts: rows.map((r) => {
      const covering = silences.filter((s) => isSilenced([s], r.rule, r.subject))
      const until = covering.length ? new Date(Math.max(...covering.map((s) => s.until.getTime()))) : null
      return { ...r, silenced_until: r.status === 'resolved' ? null : until }
    }),
    silences,
  }
}

/** The rules an operator may name: the catalogue, and any rule the daemon has raised. */
export async function knownRules(ctx: Context): Promise<string[]> {
  const seen = await listRulesSeen(await ctx.db())
  return [...new Set([...RULE_NAMES, ...seen])].sort()
}

export interface SilenceRequest {
  rule: string
  subject?: string
  forMs: number
  reason?: string
}

/** Silences a rule (or one subject of it) for a while; recorded in the audit log. */
export async function silenceAlert(ctx: Context, request: SilenceRequest): Promise<SilenceRow> {
  const rules = await knownRules(ctx)
  if (!rules.includes(request.rule)) {
    throw new UsageError(`Unknown alert rule "${request.rule}" (rules: ${rules.join(', ')}).`, { code: 'unknown_rule' })
  }
  if (request.forMs <= 0 || request.forMs > MAX_SILENCE_MS) {
    throw new UsageError(`A silence lasts from 1s to ${formatDuration(MAX_SILENCE_MS)}, not ${formatDuration(request.forMs)}.`, { code: 'invalid_option' })
  }
  const db = await ctx.db()
  const now = ctx.clock.now()
  const actor = actorName(ctx.env)
  return db.transaction(async (tx) => {
    const row = await insertSilence(
      tx,
      { rule: request.rule, subject: request.subject ?? null, until: new Date(now.getTime() + request.forMs), reason: request.reason ?? null, createdBy: actor },
      now,
    )
    await recordAudit(tx, actor, { action: 'alerts.silence', target: request.subject ? `${request.rule}/${request.subject}` : request.rule, count: 1, details: { until: row.until.toISOString(), reason: row.reason } }, now)
    return row
  })
}
