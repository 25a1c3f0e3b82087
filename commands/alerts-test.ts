import { z } from 'zod'
import type { Context } from '../src/context.js'
import { ExitCode, UsageError } from '../src/errors.js'
import { SINK_NAMES } from '../src/alerts/types.js'
import { json, optionsOf } from '../src/flags.js'

export const flags = { json }

export const Options = optionsOf(flags, {
  args: z.enum(SINK_NAMES, { error: (issue) => `unknown sink "${String(issue.input)}" (sinks: ${SINK_NAMES.join(', ')})` }),
})

export const help = 'Sinks: log, slack, pagerduty, webhook, alertmanager.'
export const examples = [
  'lora alerts test slack',
  'lora alerts test pagerduty --json',
]

const ENV: Record<(typeof SINK_NAMES)[number], string> = {
  log: '',
  slack: 'LORA_SLACK_WEBHOOK_URL',
  pagerduty: 'LORA_PAGERDUTY_ROUTING_KEY',
  webhook: 'LORA_ALERT_WEBHOOK_URL',
  alertmanager: 'LORA_ALERTMANAGER_URL',
}

/** `lora alerts test SINK`: a test alert to that sink alone; exit 1 when it does not get through. */
export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<ExitCode> {
  const { alertsConfig } = await import('../src/config/schema.js')
  const config = await ctx.config()
  if (opts.args !== 'log' && !alertsConfig(config).sinks[opts.args]) {
    throw new UsageError(`Profile ${config.profile} has no ${opts.args} alert sink.`, {
      code: 'sink_not_configured',
      hint: `Set ${ENV[opts.args]}, or alerts.sinks.${opts.args} in .lorarc.`,
    })
  }
  const { sendTestAlert } = await import('../src/alerts/engine.js')
  const results = await sendTestAlert(ctx, opts.args)
  const ok = results.length > 0 && results.every((r) => r.ok)
  const first = results[0]
  if (opts.json) {
    ctx.io.json({ sink: opts.args, ok, deliveries: results.map((r) => ({ kind: r.kind, ok: r.ok, attempts: r.attempts, status: r.status ?? null, error: r.error ?? null })) })
  } else if (ok) {
    ctx.io.out(`test alert sent to ${opts.args}${first?.status ? ` (HTTP ${first.status}` + `, ${first.attempts} attempt${first.attempts === 1 ? '' : 's'})` : ''}${results.length > 1 ? ' and resolved' : ''}`)
  } else {
    const failed = results.find((r) => !r.ok)
    ctx.io.err(`error: the test alert did not reach ${opts.args} after ${failed?.attempts ?? 0} attempt(s): ${failed?.error ?? 'unknown error'}.`)
  }
  return ok ? ExitCode.ok : ExitCode.failed
}
