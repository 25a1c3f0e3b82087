import type { IO } from '../io/streams.js'
import { printTable } from '../io/output.js'
import type { CheckResult, CheckStatus } from './checks.js'
import type { HealthReport } from './run.js'

const COLOUR: Record<CheckStatus, string> = { ok: '32', warning: '33', critical: '31' }

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
  const paint = (status: CheckStatus, text: string) => (io.color ? `\x1b[${COLOUR[status]}m${text}\x1b[0m` : text)
  await printTable(
    io,
    [
      { header: 'Check', value: (c) => c.name },
      { header: 'Status', value: (c) => c.status, color: (c, t) => paint(c.status, t) },
      { header: 'Value', value: (c) => figure(c), align: 'right' },
      { header: 'Threshold', value: (c) => limits(c), detail: true },
      { header: 'Message', value: (c) => c.message },
    ],
    report.checks,
  )
  const { ok, warning, critical } = report.counts
  const verdict = `health: ${report.status} (${ok} ok, ${warning} warning, ${critical} critical); exit ${exitCode} with --fail-on ${failOn}`
  io.err(io.errColor ? `\x1b[${COLOUR[report.status]}m${verdict}\x1b[0m` : verdict)
}
