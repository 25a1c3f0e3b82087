import { z } from 'zod'
import type { Context } from '../src/context.js'
import { printTable } from '../src/io/output.js'
import { ExitCode } from '../src/errors.js'
import { dryRun, json, optionsOf } from '../src/flags.js'

export const flags = { dryRun, json }

export const Options = optionsOf(flags)

export const examples = [
  'lora alerts evaluate --dry-run',
  'lora alerts evaluate --json',
]

/** `lora alerts evaluate [--dry-run]`: one evaluation of every rule, for cron setups without the daemon. */
export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<ExitCode> {
  const { evaluateAlerts } = await import('../src/alerts/engine.js')
  const result = await evaluateAlerts(ctx, { dryRun: Boolean(opts.dryRun) })
  if (opts.json) {
    ctx.io.json({
      dry_run: result.dryRun,
      evaluated_at: result.evaluatedAt,
      firing: result.firing,
      pending: result.pending,
      notified: result.notified,
      silenced: result.silenced,
      alerts: result.alerts,
      errors: result.errors,
      deliveries: result.deliveries,
    })
    return result.errors.length ? ExitCode.failed : ExitCode.ok
  }
  await printTable(
    ctx.io,
    [
      { header: 'Status', value: (a) => a.status + (a.silenced ? ' (silenced)' : '') },
      { header: 'Severity', value: (a) => a.severity },
      { header: 'Rule', value: (a) => a.rule },
      { header: 'Subject', value: (a) => a.subject || null },
      { header: opts.dryRun ? 'Would notify' : 'Notified', value: (a) => a.notify },
      { header: 'Message', value: (a) => a.message },
    ],
    result.alerts,
    { empty: 'no alert is firing or pending' },
  )
  const n = result.notified
  const verb = opts.dryRun ? 'would notify' : 'notified'
  ctx.io.err(`${result.dryRun ? 'dry run: ' : ''}${result.firing} firing, ${result.pending} pending; ${verb} ${n.fired} fired, ${n.repeated} repeated, ${n.resolved} resolved; ${result.silenced} silenced`)
  for (const e of result.errors) ctx.io.err(`error: rule ${e.rule} could not be evaluated: ${e.message}`)
  const failed = result.deliveries.filter((d) => !d.ok)
  for (const d of failed) ctx.io.err(`warning: ${d.sink} did not take ${d.kind} ${d.fingerprint}: ${d.error}`)
  return result.errors.length ? ExitCode.failed : ExitCode.ok
}
