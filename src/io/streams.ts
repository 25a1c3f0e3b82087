import { redact, redactValue } from '../redact.js'
import { colourAllowed, createStyle, type Style } from './style.js'

export interface OutStream {
  write(chunk: string): unknown
  isTTY?: boolean
  columns?: number
}

export interface InStream {
  isTTY?: boolean
}

export interface IOOptions {
  stdout: OutStream
  stderr: OutStream
  stdin: InStream
  env: Record<string, string | undefined>
  /** --no-color */
  noColor?: boolean
  /** --wide: tables show every column in full instead of fitting the terminal. */
  wide?: boolean
}

/**
 * Everything a command prints goes through here: data to stdout, progress, warnings
 * and errors to stderr, all redacted. It knows whether it talks to a terminal.
 */
export class IO {
  readonly stdout: OutStream
  readonly stderr: OutStream
  readonly stdoutIsTTY: boolean
  readonly stderrIsTTY: boolean
  /** Colour on stdout: a terminal, no NO_COLOR, no --no-color. */
  readonly color: boolean
  /** Colour on stderr, by the same rules. */
  readonly errColor: boolean
  /** The colour scheme of stdout: the identity when it has no colour. */
  readonly style: Style
  /** The colour scheme of stderr. */
  readonly errStyle: Style
  /** Prompts only when input and output are terminals and CI is not set. */
  readonly canPrompt: boolean
  /** --wide */
  readonly wide: boolean
  private readonly envColumns: number | undefined

  constructor(options: IOOptions) {
    this.wide = Boolean(options.wide)
    const envColumns = Number(options.env.COLUMNS)
    this.envColumns = Number.isInteger(envColumns) && envColumns > 0 ? envColumns : undefined
    this.stdout = options.stdout
    this.stderr = options.stderr
    this.stdoutIsTTY = Boolean(options.stdout.isTTY)
    this.stderrIsTTY = Boolean(options.stderr.isTTY)
    this.color = colourAllowed(options.stdout, options.env, options.noColor)
    this.errColor = colourAllowed(options.stderr, options.env, options.noColor)
    this.style = createStyle(this.color)
    this.errStyle = createStyle(this.errColor)
    // Standard input last: a command whose output is not a terminal never opens it.
    this.canPrompt = this.stdoutIsTTY && !options.env.CI && Boolean(options.stdin.isTTY)
  }

  /** A line of data on stdout. */
  out(text = ''): void {
    this.stdout.write(redact(text) + '\n')
  }

  /** A line of progress, warning or error on stderr. */
  err(text = ''): void {
    this.stderr.write(redact(text) + '\n')
  }

  /** Raw bytes of a live view on stderr (already formatted, still redacted). */
  errRaw(text: string): void {
    this.stderr.write(redact(text))
  }

  json(value: unknown): void {
    this.stdout.write(JSON.stringify(redactValue(value), jsonReplacer, 2) + '\n')
  }

  /** One JSON object per line (watch streams). */
  jsonLine(value: unknown): void {
    this.stdout.write(JSON.stringify(redactValue(value), jsonReplacer) + '\n')
  }

  warn(text: string): void {
    this.err(`${this.errStyle.warn('warning')}: ${text}`)
  }

  /** The width to fit: $COLUMNS when set, else the terminal's. */
  get columns(): number {
    return this.envColumns ?? (this.stdout.columns || 100)
  }
}

function jsonReplacer(_key: string, value: unknown): unknown {
  return typeof value === 'bigint' ? Number(value) : value
}

/** A captured IO for tests: what a command printed, TTY or piped. */
export function createTestIO(options: { tty?: boolean; stdinTTY?: boolean; env?: Record<string, string | undefined>; columns?: number; wide?: boolean } = {}) {
  let stdout = ''
  let stderr = ''
  const tty = options.tty ?? false
  const io = new IO({
    stdout: { write: (c: string) => (stdout += c), isTTY: tty, columns: options.columns ?? 120 },
    stderr: { write: (c: string) => (stderr += c), isTTY: tty, columns: options.columns ?? 120 },
    stdin: { isTTY: options.stdinTTY ?? tty },
    env: options.env ?? {},
    wide: options.wide ?? false,
  })
  return {
    io,
    stdout: () => stdout,
    stderr: () => stderr,
  }
}
