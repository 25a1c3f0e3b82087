/** Exit codes, the same for every command (DESIGN section 9). */
export const ExitCode = {
  ok: 0,
  failed: 1,
  usage: 2,
  interrupted: 130,
} as const

export type ExitCode = (typeof ExitCode)[keyof typeof ExitCode]

/**
 * How a command that ran to its end exits: 0, or 130 when Ctrl-C cut its work short
 * (a server whose normal end is Ctrl-C returns ExitCode.ok itself instead).
 */
export function finished(signal: AbortSignal): ExitCode {
  return signal.aborted ? ExitCode.interrupted : ExitCode.ok
}

export interface LoraErrorOptions {
  code?: string
  exitCode?: ExitCode
  hint?: string
  cause?: unknown
}

/**
 * An error meant for the person at the terminal: one sentence of what went wrong,
 * an optional hint of what to do, and the exit code it maps to.
 */
export class LoraError extends Error {
  readonly code: string
  readonly exitCode: ExitCode
  readonly hint?: string

  constructor(message: string, options: LoraErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'LoraError'
    this.code = options.code ?? 'failed'
    this.exitCode = options.exitCode ?? ExitCode.failed
    this.hint = options.hint
  }
}

/** Bad flags, arguments or configuration: exit code 2. */
export class UsageError extends LoraError {
  constructor(message: string, options: Omit<LoraErrorOptions, 'exitCode'> = {}) {
    super(message, { code: 'usage', ...options, exitCode: ExitCode.usage })
    this.name = 'UsageError'
  }
}

/** The user abandoned a prompt or pressed Ctrl-C: exit code 130. */
export class InterruptedError extends LoraError {
  constructor(message = 'Interrupted.') {
    super(message, { code: 'interrupted', exitCode: ExitCode.interrupted })
    this.name = 'InterruptedError'
  }
}

export function isLoraError(error: unknown): error is LoraError {
  return error instanceof LoraError
}

export const EXIT_CODE_HELP = `Exit codes:
  0    success
  1    the operation failed, or a gate (health, jobs watch) is not met
  2    usage or configuration error
  130  interrupted (Ctrl-C, a prompt abandoned)`
