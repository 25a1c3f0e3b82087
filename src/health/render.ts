import type { IO } from '../io/streams.js'
import type { StyleName } from '../io/style.js'
import { printTable } from '../io/output.js'
import type { CheckResult, CheckStatus } from './checks.js'
import type { HealthReport } from './run.js'

const STATUS_STYLE: Record<CheckStatus, StyleName> = { ok: 'ok', warning: 'warn', critical: 'fail' }

function figure(c: CheckResult): string {
  if (c.value === null) return ''
  if (c.unit === '%') return `${c.value} %`
  return c.unit ? `${c.value} ${c.value === 1 && c.unit !== 'ms' ? c.unit.replace(/s$/, '') : c.unit}` : String(c.value)
}

function limits(c: CheckResult): string {
  const parts: string[] = []
  if (c.threshold.warning !== null) parts.push(`warn ${c.threshold.warning}`)
  if (c.threshold.critical !== null) parts.push(`crit ${c.threshold.critical}`)
  return parts.join(', ')
}

/** The checks as a table (TSV when piped), then one verdict line on stderr. */
export async function printHealth(io: IO, report: HealthReport, failOn: 'warning' | 'critical', exitCode: number): Promise<void> {
  await printTable(
    io,
    [
      { header: 'Check', value: (c) => c.name },
      { header: 'Status', value: (c) => c.status, color: (c, t) => io.style[STATUS_STYLE[c.status]](t) },
      { header: 'Value', value: (c) => figure(c), align: 'right' },
      { header: 'Threshold', value: (c) => limits(c), detail: true },
      { header: 'Message', value: (c) => c.message },
    ],
    report.checks,
  )
  const { ok, warning, critical } = report.counts
  const verdict = `health: ${report.status} (${ok} ok, ${warning} warning, ${critical} critical); exit ${exitCode} with --fail-on ${failOn}`
  io.err(io.errStyle[STATUS_STYLE[report.status]](verdict))
}
