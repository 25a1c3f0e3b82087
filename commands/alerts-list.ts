import { z } from 'zod'
import type { Context } from '../src/context.js'
import { printTable } from '../src/io/output.js'
import { ExitCode } from '../src/errors.js'
import { json, optionsOf } from '../src/flags.js'

export const flags = { json }

export const Options = optionsOf(flags)

export const examples = [
  'lora alerts list',
  'lora alerts list --json',
]

/** `lora alerts list`: firing and pending alerts, those resolved in 24 h, and the silences in force. */
export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<ExitCode> {
  const { listAlerts } = await import('../src/alerts/manage.js')
  const { alerts, silences } = await listAlerts(ctx)
  if (opts.json) {
    ctx.io.json({
      alerts: alerts.map((a) => ({
        fingerprint: a.fingerprint,
        rule: a.rule,
        subject: a.subject,
        severity: a.severity,
        status: a.status,
        message: a.message,
        value: a.value,
        threshold: a.threshold,
        pending_since: a.status === 'pending' ? a.active_since : null,
        first_fired_at: a.first_fired_at,
        last_notified_at: a.last_notified_at,
        resolved_at: a.resolved_at,
        silenced_until: a.silenced_until,
        source: a.source,
      })),
      silences: silences.map((s) => ({ id: s.id, rule: s.rule, subject: s.subject, until: s.until, reason: s.reason, created_by: s.created_by, created_at: s.created_at })),
    })
    return ExitCode.ok
  }
  const style = ctx.io.style
  const severityStyle = { critical: 'fail', warning: 'warn', info: 'info' } as const
  await printTable(
    ctx.io,
    [
      { header: 'Status', value: (a) => a.status + (a.silenced_until ? ' (silenced)' : ''), color: (a, t) => (a.status === 'firing' ? style.bold(t) : a.status === 'pending' ? t : style.dim(t)) },
      { header: 'Severity', value: (a) => a.severity, color: (a, t) => style[severityStyle[a.severity]](t) },
      { header: 'Rule', value: (a) => a.rule },
      { header: 'Subject', value: (a) => a.subject || null },
      { header: 'Since', value: (a) => (a.status === 'pending' ? a.active_since : a.status === 'resolved' ? a.resolved_at : a.first_fired_at) },
      { header: 'Notified', value: (a) => a.last_notified_at, detail: true },
      { header: 'Message', value: (a) => a.message },
    ],
    alerts,
    { empty: 'no alert is firing, pending or recently resolved' },
  )
  if (silences.length) {
    ctx.io.out('')
    await printTable(
      ctx.io,
      [
        { header: 'Silenced rule', value: (s) => s.rule },
        { header: 'Subject', value: (s) => s.subject ?? '(all)' },
        { header: 'Until', value: (s) => s.until },
        { header: 'By', value: (s) => s.created_by, detail: true },
        { header: 'Reason', value: (s) => s.reason },
      ],
      silences,
    )
  }
  const firing = alerts.filter((a) => a.status === 'firing').length
  ctx.io.err(`${firing} firing, ${alerts.filter((a) => a.status === 'pending').length} pending, ${silences.length} silence(s) in force`)
  return ExitCode.ok
}
