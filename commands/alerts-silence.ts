import { z } from 'zod'
import type { Context } from '../src/context.js'
import { formatDuration } from '../src/config/duration.js'
import { ExitCode } from '../src/errors.js'
import { duration, flag, json, optionsOf } from '../src/flags.js'

export const flags = {
  for: flag('--for <duration>', 'how long, such as 30m or 2h (required)', duration({ missing: 'required: how long, such as 2h' })),
  subject: flag('--subject <subject>', 'only this subject of the rule: a job id, a cluster name', z.string().min(1, 'expected a subject such as a job id or a cluster name').optional()),
  reason: flag('--reason <text>', 'why, for the others on call', z.string().optional()),
  json,
}

export const Options = optionsOf(flags, { args: z.string().min(1, 'name the rule to silence') })

export const examples = [
  'lora alerts silence stuck-jobs --for 2h --reason "known cluster maintenance"',
  'lora alerts silence training-timeout --for 30m --subject bfc44f88-1111-4000-8000-000000000001',
]

/** `lora alerts silence RULE [--subject S] --for 2h [--reason TEXT]`. */
export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<ExitCode> {
  const { silenceAlert } = await import('../src/alerts/manage.js')
  const silence = await silenceAlert(ctx, {
    rule: opts.args,
    forMs: opts.for,
    ...(opts.subject ? { subject: opts.subject } : {}),
    ...(opts.reason ? { reason: opts.reason } : {}),
  })
  if (opts.json) {
    ctx.io.json({ id: silence.id, rule: silence.rule, subject: silence.subject, until: silence.until, reason: silence.reason, created_by: silence.created_by, created_at: silence.created_at })
  } else {
    ctx.io.out(`silenced ${silence.rule}${silence.subject ? ` (${silence.subject})` : ''} until ${silence.until.toISOString()} (${formatDuration(opts.for)})`)
  }
  return ExitCode.ok
}
