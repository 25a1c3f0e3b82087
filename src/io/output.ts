import type { IO } from './streams.js'

export type Cell = string | number | boolean | Date | null | undefined

export interface Column<T> {
  header: string
  value: (row: T) => Cell
  align?: 'left' | 'right'
  /** Colour for the terminal only. */
  color?: (row: T, text: string) => string
}

/** Piped output is plain: ISO timestamps, no colour, empty for null. */
export function plainCell(value: Cell): string {
  if (value === null || value === undefined) return ''
  if (value instanceof Date) return value.toISOString()
  return String(value)
}

/**
 * Prints rows as a table on a terminal (cli-table3) and as tab-separated values
 * with a header line when piped, so that `cut` and `awk` work.
 */
export async function printTable<T>(io: IO, columns: Column<T>[], rows: T[], options: { empty?: string } = {}): Promise<void> {
  if (!io.stdoutIsTTY) {
    io.out(columns.map((c) => c.header.toLowerCase().replace(/\s+/g, '_')).join('\t'))
    for (const row of rows) io.out(columns.map((c) => plainCell(c.value(row)).replace(/[\t\n]/g, ' ')).join('\t'))
    return
  }
  if (rows.length === 0) {
    io.out(options.empty ?? '(none)')
    return
  }
  const { default: Table } = await import('cli-table3')
  const table = new Table({
    head: columns.map((c) => c.header),
    style: { head: io.color ? ['bold'] : [], border: io.color ? ['grey'] : [], compact: true },
    colAligns: columns.map((c) => c.align ?? 'left'),
    chars: io.color ? {} : undefined,
  })
  for (const row of rows) {
    table.push(
      columns.map((c) => {
        const text = terminalCell(c.value(row))
        return io.color && c.color ? c.color(row, text) : text
      }),
    )
  }
  io.out(table.toString())
}

function terminalCell(value: Cell): string {
  if (value === null || value === undefined) return '-'
  if (value instanceof Date) return value.toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z')
  return String(value)
}

/** Key-value lines: aligned on a terminal, tab-separated when piped. */
export function printFields(io: IO, fields: [string, Cell][]): void {
  const width = Math.max(...fields.map(([k]) => k.length))
  for (const [key, value] of fields) {
    if (io.stdoutIsTTY) io.out(`${key.padEnd(width)}  ${terminalCell(value)}`)
    else io.out(`${key}\t${plainCell(value)}`)
  }
}
