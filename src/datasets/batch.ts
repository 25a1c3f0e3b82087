import { isUtf8 } from 'node:buffer'
import {
  ALLOWED_FIELDS,
  CHARS_PER_TOKEN,
  CHAT,
  COMPLETION,
  DETECTION_RECORDS,
  FORMATS,
  INSTRUCTION,
  MAX_NESTING,
  MAX_SHOWN_ERRORS,
  RECORD_SHAPES,
  REQUIRED_FIELDS,
  type ErrorKind,
  type LineError,
} from './formats.js'

/** Per format (in FORMATS order): valid records, their pairs and tokens, their first line numbers. */
export interface FormatTally {
  records: number
  pairs: number
  tokens: number
  lines: number[]
}

/** What one batch of whole lines holds. Line numbers are relative to the batch (1-based). */
export interface BatchResult {
  lines: number
  blank: number
  crlf: number
  errorCount: number
  errors: LineError[]
  tallies: FormatTally[]
  /** Format indices of the first valid records, for detection. */
  first: number[]
}

/**
 * Validates a buffer of whole lines; `forced` is the index of a --format, or -1.
 * `startOfLine` judges the start of a line too long for one read: the line's result
 * when its start alone already condemns it (nested too deep), else null.
 */
export type BatchValidator = ((bytes: Buffer, forced: number) => BatchResult) & { startOfLine(bytes: Buffer): BatchResult | null }

const OPEN_ARRAY = 91
const OPEN_OBJECT = 123
const TOO_DEEP = `is nested deeper than ${MAX_NESTING} levels: no training record is (is this JSONL?)`

const emptyTallies = (): FormatTally[] => FORMATS.map(() => ({ records: 0, pairs: 0, tokens: 0, lines: [] }))

/** A value from the Latin-1 view, back in UTF-8 and cut short for a message. */
function show(value: string): string {
  let text = /[^\x00-\xff]/.test(value) ? value : Buffer.from(value, 'latin1').toString('utf8')
  if (text.length > 40) text = `${text.slice(0, 40)}...`
  return JSON.stringify(text)
}

function describe(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'object') return 'an object'
  if (typeof value === 'string') return 'a string'
  if (typeof value === 'number') return 'a number'
  if (typeof value === 'boolean') return 'a boolean'
  return typeof value
}

const isEmptyText = (text: string): boolean => text.length === 0 || (text.charCodeAt(0) <= 32 && text.trim().length === 0)

/** Offset of the first byte that breaks UTF-8, for the message. */
function badUtf8At(b: Buffer, start: number, end: number): number {
  let i = start
  while (i < end) {
    const c = b[i]!
    if (c < 0x80) {
      i++
      continue
    }
    const extra = c >= 0xc2 && c <= 0xdf ? 1 : c >= 0xe0 && c <= 0xef ? 2 : c >= 0xf0 && c <= 0xf4 ? 3 : 0
    if (extra === 0 || i + extra >= end) return i - start
    for (let k = 1; k <= extra; k++) if ((b[i + k]! & 0xc0) !== 0x80) return i - start
    const second = b[i + 1]!
    if ((c === 0xe0 && second < 0xa0) || (c === 0xed && second > 0x9f) || (c === 0xf0 && second < 0x90) || (c === 0xf4 && second > 0x8f)) return i - start
    i += extra + 1
  }
  return -1
}

function jsonProblem(error: unknown): string {
  let text = error instanceof Error ? error.message : String(error)
  text = text.replace(/, ".*" is not valid JSON$/s, '').replace(/ in JSON at position (\d+)/, (_m, p: string) => ` at column ${Number(p) + 1}`)
  text = /[^\x00-\xff]/.test(text) ? text : Buffer.from(text, 'latin1').toString('utf8')
  return text.charAt(0).toLowerCase() + text.slice(1)
}

/** How many of `byte` the line holds, counted natively, up to `limit`. */
function countUpTo(line: Buffer, byte: number, limit: number): number {
  let n = 0
  for (let i = line.indexOf(byte); i !== -1 && n <= limit; i = line.indexOf(byte, i + 1)) n++
  return n
}

/**
 * Whether the line opens more than MAX_NESTING arrays and objects at once, found
 * before JSON.parse builds them. Most lines hold few brackets, which two native
 * searches tell; only a line with many is walked byte by byte, strings skipped.
 */
function nestedTooDeep(line: Buffer): boolean {
  const arrays = countUpTo(line, OPEN_ARRAY, MAX_NESTING)
  if (arrays + countUpTo(line, OPEN_OBJECT, MAX_NESTING - arrays) <= MAX_NESTING) return false
  let depth = 0
  let inString = false
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!
    if (inString) {
      if (c === 92) i++
      else if (c === 34) inString = false
    } else if (c === 34) inString = true
    else if (c === OPEN_ARRAY || c === OPEN_OBJECT) {
      if (++depth > MAX_NESTING) return true
    } else if (c === 93 || c === 125) depth--
  }
  return false
}

/**
 * A prefix nested too deep is a line nested too deep: said at once, so that the
 * reader skips the rest instead of holding a hostile line of up to 32 MB whole.
 */
function startOfLine(bytes: Buffer): BatchResult | null {
  if (!nestedTooDeep(bytes)) return null
  return { lines: 1, blank: 0, crlf: 0, errorCount: 1, errors: [{ line: 1, kind: 'nested_too_deep', message: TOO_DEEP }], tallies: emptyTallies(), first: [] }
}

/** What checking the last record found: one object, rewritten for each record (none allocated per record). */
interface RecordOutcome {
  /** Set when the record is invalid. */
  kind: ErrorKind
  message: string
  /** Set when it is valid: its training pairs and the characters of its text fields. */
  pairs: number
  chars: number
}

/**
 * The checker of parsed records: `check` returns the format index of a valid record
 * (pairs and chars in `outcome`), or -1 (kind and message in `outcome`).
 */
function createRecordChecker(): { outcome: RecordOutcome; check(value: unknown, forced: number): number } {
  const outcome: RecordOutcome = { kind: 'invalid_json', message: '', pairs: 0, chars: 0 }

  const fail = (k: ErrorKind, m: string): number => {
    outcome.kind = k
    outcome.message = m
    return -1
  }

  /** Required fields present and nothing else; false (with the problem set) otherwise. */
  const checkFields = (record: Record<string, unknown>, format: number): boolean => {
    const allowed = ALLOWED_FIELDS[format]!
    let unknown: string | null = null
    for (const key in record) {
      if (!allowed.includes(key)) {
        unknown = key
        break
      }
    }
    for (const field of REQUIRED_FIELDS[format]!) {
      if (!(field in record)) {
        const also = unknown === null ? '' : ` (and has an unknown field ${show(unknown)})`
        fail('missing_field', `misses the field "${field}" of the ${FORMATS[format]} format${also}`)
        return false
      }
    }
    if (unknown !== null) {
      fail('unknown_field', `has an unknown field ${show(unknown)}: ${FORMATS[format]} records hold ${RECORD_SHAPES[format]}`)
      return false
    }
    return true
  }

  const checkText = (value: unknown, what: string, mayBeEmpty: boolean): boolean => {
    if (typeof value !== 'string') {
      fail('not_string', `${what} is ${describe(value)}, not a string`)
      return false
    }
    if (!mayBeEmpty && isEmptyText(value)) {
      fail('empty_string', `${what} is empty`)
      return false
    }
    outcome.chars += value.length
    return true
  }

  const checkChat = (record: Record<string, unknown>): number => {
    const messages = record.messages
    if (!Array.isArray(messages)) return fail('invalid_messages', `field "messages" is ${describe(messages)}, not an array of messages`)
    if (messages.length === 0) return fail('invalid_messages', 'field "messages" is an empty array')
    let previous = ''
    let assistants = 0
    for (let i = 0; i < messages.length; i++) {
      const m = messages[i] as Record<string, unknown>
      const n = i + 1
      if (typeof m !== 'object' || m === null || Array.isArray(m)) return fail('invalid_message', `message ${n} is ${describe(m)}, not an object`)
      for (const key in m) {
        if (key !== 'role' && key !== 'content') {
          return fail('invalid_message', `message ${n} has an unknown field ${show(key)}: messages hold "role" and "content"`)
        }
      }
      if (!('role' in m)) return fail('invalid_message', `message ${n} misses the field "role"`)
      if (!('content' in m)) return fail('invalid_message', `message ${n} misses the field "content"`)
      const role = m.role
      if (role !== 'system' && role !== 'user' && role !== 'assistant') {
        const given = typeof role === 'string' ? show(role) : describe(role)
        return fail('invalid_role', `message ${n} has role ${given}: roles are system, user and assistant`)
      }
      if (!checkText(m.content, `the content of message ${n}`, false)) return -1
      if (role === 'system') {
        if (i > 0) return fail('role_order', `message ${n} is a system message: only the first message may be one`)
      } else if (role === 'user') {
        if (previous === 'user') return fail('role_order', `message ${n} is a second user message in a row: user and assistant must alternate`)
      } else {
        if (previous !== 'user') {
          return fail(
            'role_order',
            previous === 'assistant'
              ? `message ${n} is a second assistant message in a row: user and assistant must alternate`
              : `message ${n} is an assistant message before any user message`,
          )
        }
        assistants++
      }
      previous = role
    }
    if (assistants === 0) return fail('no_assistant', 'has no assistant message: nothing to train on')
    outcome.pairs = assistants
    return CHAT
  }

  /** The record's format: by its fields, or --format's for a record with none of them. */
  const formatOf = (record: Record<string, unknown>, forced: number): number => {
    const chat = 'messages' in record
    const completion = 'prompt' in record || 'completion' in record
    const instruction = 'instruction' in record || 'output' in record
    const found = (chat ? 1 : 0) + (completion ? 1 : 0) + (instruction ? 1 : 0)
    if (found === 0) {
      if (forced < 0) return fail('unknown_format', `has none of the fields of a supported format: ${RECORD_SHAPES.map((s, i) => `${FORMATS[i]} ${s}`).join(', ')}`)
      return forced
    }
    if (found > 1) {
      const names = [chat ? 'chat' : '', completion ? 'completion' : '', instruction ? 'instruction' : ''].filter(Boolean)
      return fail('mixed_formats', `mixes the fields of the ${names.join(' and ')} formats`)
    }
    return chat ? CHAT : completion ? COMPLETION : INSTRUCTION
  }

  const check = (value: unknown, forced: number): number => {
    outcome.pairs = 0
    outcome.chars = 0
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      return fail('not_object', `is ${describe(value)}, not a JSON object`)
    }
    const record = value as Record<string, unknown>
    const format = formatOf(record, forced)
    if (format < 0 || !checkFields(record, format)) return -1
    if (format === CHAT) return checkChat(record)
    if (format === COMPLETION) {
      if (!checkText(record.prompt, 'field "prompt"', false) || !checkText(record.completion, 'field "completion"', false)) return -1
    } else {
      if (!checkText(record.instruction, 'field "instruction"', false)) return -1
      if ('input' in record && !checkText(record.input, 'field "input"', true)) return -1
      if (!checkText(record.output, 'field "output"', false)) return -1
    }
    outcome.pairs = 1
    return format
  }
  return { outcome, check }
}

/**
 * Builds the validator of one batch of JSONL lines, the same on the main thread and
 * in the workers (src/datasets/validate-worker.ts).
 *
 * Speed: the batch is checked for UTF-8 once (simdutf), then each line is decoded
 * as Latin-1, which is a copy, not a decode. That parses the same as UTF-8 would:
 * JSON's structure is ASCII, and every byte of a multi-byte sequence is >= 0x80,
 * allowed inside strings and an error outside them either way. String lengths are
 * then UTF-8 byte counts, which is what the token estimate wants; the few values
 * quoted in error messages are turned back into UTF-8.
 */
export function createBatchValidator(): BatchValidator {
  const records = createRecordChecker()
  const { outcome } = records

  const validate = (bytes: Buffer, forced: number): BatchResult => {
    const errors: LineError[] = []
    let errorCount = 0
    const tallies = emptyTallies()
    const first: number[] = []
    let blank = 0
    let crlf = 0
    let line = 0
    const addError = (at: number, k: ErrorKind, m: string | (() => string)) => {
      errorCount++
      if (errors.length < MAX_SHOWN_ERRORS) errors.push({ line: at, kind: k, message: typeof m === 'string' ? m : m() })
    }

    const allUtf8 = isUtf8(bytes)
    const length = bytes.length
    let p = 0
    while (p < length) {
      let e = bytes.indexOf(10, p)
      if (e === -1) e = length
      line++
      let end = e
      if (end > p && bytes[end - 1] === 13) {
        end--
        crlf++
      }
      if (end === p) blank++
      else if (bytes[p]! <= 32 && bytes.toString('latin1', p, end).trim().length === 0) blank++
      else if (!allUtf8 && !isUtf8(bytes.subarray(p, end))) {
        const start = p
        const stop = end
        addError(line, 'invalid_utf8', () => `is not valid UTF-8 (at byte ${badUtf8At(bytes, start, stop) + 1} of the line): save the file as UTF-8`)
      } else if (nestedTooDeep(bytes.subarray(p, end))) {
        addError(line, 'nested_too_deep', TOO_DEEP)
      } else {
        let value: unknown
        let parsed = true
        try {
          value = JSON.parse(bytes.toString('latin1', p, end))
        } catch (error) {
          parsed = false
          addError(line, 'invalid_json', `is not valid JSON: ${jsonProblem(error)}`)
        }
        if (parsed) {
          const format = records.check(value, forced)
          if (format < 0) addError(line, outcome.kind, outcome.message)
          else {
            const tally = tallies[format]!
            tally.records++
            tally.pairs += outcome.pairs
            tally.tokens += Math.ceil(outcome.chars / CHARS_PER_TOKEN)
            if (tally.lines.length < MAX_SHOWN_ERRORS) tally.lines.push(line)
            if (first.length < DETECTION_RECORDS) first.push(format)
          }
        }
      }
      p = e + 1
    }
    return { lines: line, blank, crlf, errorCount, errors, tallies, first }
  }
  return Object.assign(validate, { startOfLine })
}
