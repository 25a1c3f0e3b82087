import { DETECTION_RECORDS, FORMATS, MAX_SHOWN_ERRORS, type ErrorKind, type LineError } from './formats.js'
import type { BatchResult, FormatTally } from './batch.js'
import type { ValidationReport } from './validator.js'

export function fileError(kind: ErrorKind, message: string): LineError {
  return { line: null, kind, message }
}

/** Joins batch results in file order: line numbers, first errors, per-format tallies. */
export class Merger {
  private lines = 0
  private blank = 0
  private crlf = 0
  private errorCount = 0
  private errors: LineError[] = []
  private tallies: FormatTally[] = FORMATS.map(() => ({ records: 0, pairs: 0, tokens: 0, lines: [] }))
  private first: number[] = []

  add(result: BatchResult): void {
    const offset = this.lines
    for (const error of result.errors) {
      if (this.errors.length >= MAX_SHOWN_ERRORS) break
      this.errors.push({ ...error, line: error.line === null ? null : error.line + offset })
    }
    this.errorCount += result.errorCount
    result.tallies.forEach((tally, i) => {
      const into = this.tallies[i]!
      into.records += tally.records
      into.pairs += tally.pairs
      into.tokens += tally.tokens
      for (const line of tally.lines) if (into.lines.length < MAX_SHOWN_ERRORS) into.lines.push(line + offset)
    })
    for (const format of result.first) if (this.first.length < DETECTION_RECORDS) this.first.push(format)
    this.blank += result.blank
    this.crlf += result.crlf
    this.lines += result.lines
  }

  /** The most common format among the first records (the earliest on a tie). */
  private detect(): number {
    if (this.first.length === 0) return -1
    const counts = FORMATS.map((_, i) => this.first.filter((f) => f === i).length)
    const best = Math.max(...counts)
    return this.first.find((f) => counts[f] === best)!
  }

  report(input: { size: number; sha256: string | null; bom: boolean; threads: number; forced: number; fileError: LineError | null }): ValidationReport {
    const format = input.forced >= 0 ? input.forced : this.detect()
    let errors = [...this.errors]
    let errorCount = this.errorCount
    if (format >= 0) {
      const expected = input.forced >= 0 ? `--format ${FORMATS[format]} was given` : `the file is in ${FORMATS[format]} format`
      this.tallies.forEach((tally, i) => {
        if (i === format || tally.records === 0) return
        errorCount += tally.records
        for (const line of tally.lines) {
          errors.push({ line, kind: 'format_mismatch', message: `is a ${FORMATS[i]} record, but ${expected}: every line must be in the same format` })
        }
      })
      errors.sort((a, b) => (a.line ?? 0) - (b.line ?? 0))
      errors = errors.slice(0, MAX_SHOWN_ERRORS)
    }
    const tally = format >= 0 ? this.tallies[format]! : { records: 0, pairs: 0, tokens: 0 }
    if (input.fileError) {
      errors = [input.fileError]
      errorCount = 1
    } else if (errorCount === 0 && tally.records === 0) {
      errors = [fileError('no_records', `the file has no records, only ${this.blank} blank line${this.blank === 1 ? '' : 's'}`)]
      errorCount = 1
    }
    const newlineEnded = this.lines
    return {
      valid: errorCount === 0,
      format: format >= 0 ? FORMATS[format]! : null,
      format_source: input.forced >= 0 ? 'given' : format >= 0 ? 'detected' : null,
      bytes: input.size,
      sha256: input.sha256,
      lines: this.lines,
      records: tally.records,
      blank_lines: this.blank,
      line_endings: this.crlf === 0 ? 'lf' : this.crlf >= newlineEnded - 1 ? 'crlf' : 'mixed',
      bom: input.bom,
      training_pairs: tally.pairs,
      token_estimate: tally.tokens,
      error_count: errorCount,
      errors,
      threads: input.threads,
    }
  }
}

