import { z } from 'zod'
import type { Context } from '../src/context.js'
import { printFields } from '../src/io/output.js'
import { ExitCode } from '../src/errors.js'
import { json, month, optionsOf } from '../src/flags.js'

export const flags = { month, json }

export const Options = optionsOf(flags)

export const help = `Committed = the costs recorded in the month + for each initializing or running job the larger of its estimate and its cost so far:
the figure the daemons claim jobs by. Projected is the end-of-month spend at the month's daily rate. A chart of daily spend on a terminal.`
export const examples = [
  'lora budget show',
  'lora budget show --month 2026-03 --json',
]

/** `lora budget show`: the month's budget, what is recorded and committed, what is left, where it is heading. */
export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<ExitCode> {
  const { budgetReport } = await import('../src/jobs/budget.js')
  const { monthOf, parseMonth } = await import('../src/month.js')
  const { money } = await import('../src/metrics/format.js')
  const now = ctx.clock.now()
  // Budget months are UTC months, like the cost records' billing periods.
  const month = opts.month ? parseMonth(opts.month, now) : monthOf(now)
  const config = await ctx.config()
  const report = await budgetReport(await ctx.db(), config.budget.monthlyUsd, month, now)
  if (opts.json) {
    ctx.io.json(report)
    return ExitCode.ok
  }
  printFields(ctx.io, [
    ['Month', report.month],
    ['Budget', money(report.budget)],
    ['Recorded', money(report.recorded)],
    ['Running', money(report.running)],
    ['Committed', `${money(report.committed)} (${report.committed_percent} %)`],
    ['Remaining', money(report.remaining)],
    ['Projected', money(report.projected)],
  ])
  if (ctx.io.stdoutIsTTY && report.daily.length > 1) {
    const { lineChart } = await import('../src/io/chart.js')
    ctx.io.out('')
    ctx.io.out('Daily spend (USD)')
    for (const line of lineChart([{ label: 'spend', values: report.daily.map((d) => d.cost), color: 'green' }], { width: ctx.io.columns, height: 6, style: ctx.io.style })) ctx.io.out(line)
  }
  if (ctx.io.stdoutIsTTY) {
    ctx.io.err('Committed = recorded costs + for each initializing or running job the larger of its estimate and its cost so far; claims stop at the budget.')
  }
  return ExitCode.ok
}
