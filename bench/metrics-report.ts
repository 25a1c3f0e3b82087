export interface Row {
  name: string
  runs: number
  p50: number
  p95: number
  max: number
}

export function percentile(sorted: number[], share: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.ceil(share * sorted.length) - 1)]!
}

/**
 * A plain aligned table; `target` adds the target, p95 as a share of it, and whether
 * p95 is under it.
 */
export function printRows(rows: Row[], target: number | null): void {
  const header = ['query', 'runs', 'p50 ms', 'p95 ms', 'max ms', ...(target === null ? [] : ['target ms', 'p95/target', 'under'])]
  const lines = rows.map((r) => [
    r.name,
    String(r.runs),
    r.p50.toFixed(1),
    r.p95.toFixed(1),
    r.max.toFixed(1),
    ...(target === null ? [] : [String(target), `${(r.p95 / target).toFixed(2)}x`, r.p95 < target ? 'yes' : 'NO']),
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)))
  const format = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')
  process.stdout.write([format(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(format)].join('\n') + '\n')
}
