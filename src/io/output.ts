import type { IO } from './streams.js'
import { SHORT_ID } from '../ids.js'

export type Cell = string | number | boolean | Date | null | undefined

export interface Column<T> {
  header: string
  value: (row: T) => Cell
  align?: 'left' | 'right'
  /** Colour for the terminal only. */
  color?: (row: T, text: string) => string
  /** A UUID: a terminal shows its first 8 characters (enough to pass back, see src/ids.ts); --wide and pipes the whole. */
  id?: boolean
  /** A detail a terminal too narrow for the whole table leaves out (--wide and pipes keep it), as `kubectl -o wide` does. */
  detail?: boolean
}

/** Shortest width a cell is cut to when the table must shrink: the cut still says something. */
const MIN_CELL = 6
/** Details stay while the longest cells can keep this much; below it they make room. */
const ROOM_FOR_TEXT = 24
/** What a terminal table adds around n cells of content: a border and a space either side of each. */
const chrome = (n: number) => 3 * n + 1

/** Piped output is plain: ISO timestamps, no colour, empty for null. */
export function plainCell(value: Cell): string {
  if (value === null || value === undefined) return ''
  if (value instanceof Date) return value.toISOString()
  return String(value)
}

/**
 * Prints rows as a table on a terminal (cli-table3) and as tab-separated values
 * with a header line when piped, so that `cut` and `awk` work. The terminal table
 * fits the width (io.columns): ids are shortened, wide-only columns left out, and the
 * longest cells (messages, reasons, paths) cut with `…` until it fits; --wide (io.wide)
 * shows everything in full. Piped output is always complete.
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
  const all = rows.map((row) =>
    columns.map((c) => {
      const text = terminalCell(c.value(row))
      return !io.wide && c.id ? text.slice(0, SHORT_ID) : text
    }),
  )
  const heads0 = columns.map((c) => c.header)
  const keep = io.wide || widthCap([heads0, ...all], io.columns - chrome(columns.length)) >= ROOM_FOR_TEXT ? columns.map(() => true) : columns.map((c) => !c.detail)
  const shown = columns.filter((_, i) => keep[i])
  const cells = all.map((line) => line.filter((_, i) => keep[i]))
  const heads = shown.map((c) => c.header)
  const cap = io.wide ? Infinity : widthCap([heads, ...cells], io.columns - chrome(shown.length))
  const { default: Table } = await import('cli-table3')
  const table = new Table({
    head: heads.map((h) => cut(h, cap)),
    style: { head: io.color ? ['bold'] : [], border: io.color ? ['grey'] : [], compact: true },
    colAligns: shown.map((c) => c.align ?? 'left'),
    chars: io.color ? {} : undefined,
  })
  rows.forEach((row, r) => {
    table.push(
      shown.map((c, i) => {
        const text = cut(cells[r]![i]!, cap)
        return io.color && c.color ? c.color(row, text) : text
      }),
    )
  })
  io.out(table.toString())
}

/** A cell no wider than cap, cut with `…`. */
function cut(text: string, cap: number): string {
  const flat = text.replace(/\s*\n\s*/g, ' ')
  return flat.length <= cap ? flat : `${flat.slice(0, Math.max(1, cap - 1))}…`
}

/**
 * The largest cell width at which the table's content fits `room` characters: only
 * columns wider than it are cut, so short columns (status, cost) stay whole and the
 * long ones give way first. Infinity when everything fits already.
 */
function widthCap(table: string[][], room: number): number {
  const widths = table[0]!.map((_, i) => Math.max(...table.map((line) => line[i]!.replace(/\s*\n\s*/g, ' ').length)))
  const total = (cap: number) => widths.reduce((sum, w) => sum + Math.min(w, cap), 0)
  if (total(Infinity) <= room) return Infinity
  let cap = Math.max(...widths)
  while (cap > MIN_CELL && total(cap) > room) cap--
  return cap
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
