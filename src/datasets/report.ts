import type { IO } from '../io/streams.js'
import { formatBytes } from './progress.js'
import type { ValidationReport } from './validator.js'

const count = (n: number) => n.toLocaleString('en-US')

/** One line: what the file holds. */
export function validationSummary(report: ValidationReport): string {
  const pairs = report.format === 'chat' ? `, ${count(report.training_pairs)} training pairs` : ''
  return `${count(report.records)} ${report.format} records (${report.format_source === 'given' ? '--format' : 'detected'})${pairs}, ~${count(report.token_estimate)} tokens, ${formatBytes(report.bytes)}`
}

/** The problems of an invalid file, on stderr: the first 20 with their lines, then a count. */
export function printValidationErrors(io: IO, file: string, report: ValidationReport): void {
  const n = report.error_count
  const fileLevel = report.errors.length === 1 && report.errors[0]!.line === null
  if (fileLevel) {
    io.err(`error: ${file} is not a valid dataset: ${report.errors[0]!.message}; nothing was uploaded.`)
    return
  }
  const shown = report.errors.length < n ? ` (the first ${report.errors.length} below)` : ''
  io.err(`error: ${file} is not a valid dataset: ${count(n)} problem${n === 1 ? '' : 's'}${shown}; nothing was uploaded.`)
  for (const e of report.errors) io.err(`  line ${e.line}: ${e.message}`)
  if (n > report.errors.length) io.err(`  ... and ${count(n - report.errors.length)} more`)
  if (report.format) io.err(`hint: the file was read as ${report.format} format (${report.format_source === 'given' ? 'from --format' : 'detected from its first records'}).`)
}

/** Notes about a valid file that are worth knowing but change nothing. */
export function validationNotes(report: ValidationReport): string[] {
  const notes: string[] = []
  if (report.bom) notes.push('the file starts with a UTF-8 byte order mark (ignored)')
  if (report.line_endings !== 'lf') notes.push(`the file has ${report.line_endings === 'crlf' ? 'Windows (CRLF)' : 'mixed'} line endings (accepted)`)
  if (report.blank_lines > 0) notes.push(`${count(report.blank_lines)} blank line${report.blank_lines === 1 ? '' : 's'} skipped`)
  return notes
}
