import { Writable } from 'node:stream'
import { InterruptedError } from '../errors.js'

export interface Choice<T> {
  value: T
  /** What the list shows. */
  name: string
  /** Shown under the list while this choice is highlighted. */
  description?: string
}

/**
 * Questions asked at a terminal. Only built when the command may prompt (a terminal,
 * no CI): without one, a missing value is a usage error naming its flag instead.
 */
export interface Prompter {
  select<T>(message: string, choices: Choice<T>[], options?: { default?: T }): Promise<T>
  confirm(message: string, options?: { default?: boolean }): Promise<boolean>
  input(message: string, options?: { default?: string; validate?: (value: string) => true | string }): Promise<string>
}

export interface PrompterStreams {
  input: NodeJS.ReadableStream
  /** Where the questions are drawn: stderr, so stdout keeps carrying data only. */
  output: NodeJS.WritableStream
  /** Aborting it (Ctrl-C handled by the CLI) abandons the prompt. */
  signal?: AbortSignal
}

/** An abandoned prompt (Ctrl-C, the signal aborted, the input closed) exits 130. */
function interrupted(error: unknown): never {
  const name = (error as Error | undefined)?.name
  if (name === 'ExitPromptError' || name === 'AbortPromptError' || name === 'CancelPromptError') {
    throw new InterruptedError('Prompt abandoned: nothing was done.')
  }
  throw error
}

/**
 * Each prompt pipes its output into the stream and ends it when done, which is
 * harmless for process.stderr but would close any other stream after one question:
 * every prompt writes through its own pass-through that ends alone.
 */
function outputFor(target: NodeJS.WritableStream): NodeJS.WritableStream {
  const proxy = new Writable({
    write(chunk: Buffer | string, encoding: BufferEncoding, callback: (error?: Error | null) => void) {
      if (typeof chunk === 'string') target.write(chunk, encoding, callback)
      else target.write(chunk, callback)
    },
  })
  const tty = target as NodeJS.WritableStream & { columns?: number; rows?: number; isTTY?: boolean }
  Object.defineProperties(proxy, {
    columns: { get: () => tty.columns },
    rows: { get: () => tty.rows },
    isTTY: { get: () => tty.isTTY },
  })
  return proxy
}

/** A Prompter over @inquirer/prompts, on the streams given (tests feed keystrokes through a PassThrough). */
export function createPrompter(streams: PrompterStreams): Prompter {
  const base = { input: streams.input, ...(streams.signal ? { signal: streams.signal } : {}) }
  const contextFor = () => ({ ...base, output: outputFor(streams.output) })
  return {
    async select<T>(message: string, choices: Choice<T>[], options: { default?: T } = {}): Promise<T> {
      const { select } = await import('@inquirer/prompts')
      return select<T>(
        {
          message,
          choices: choices.map((c) => ({ value: c.value, name: c.name, ...(c.description ? { description: c.description } : {}) })),
          ...(options.default !== undefined ? { default: options.default } : {}),
          pageSize: 10,
        },
        contextFor(),
      ).catch(interrupted)
    },
    async confirm(message, options = {}) {
      const { confirm } = await import('@inquirer/prompts')
      return confirm({ message, default: options.default ?? false }, contextFor()).catch(interrupted)
    },
    async input(message, options = {}) {
      const { input } = await import('@inquirer/prompts')
      return input(
        {
          message,
          ...(options.default !== undefined ? { default: options.default } : {}),
          ...(options.validate ? { validate: options.validate } : {}),
        },
        contextFor(),
      ).catch(interrupted)
    },
  }
}

/** The prompter of the real terminal: keys from stdin, questions on stderr. */
export function terminalPrompter(signal?: AbortSignal): Prompter {
  return createPrompter({ input: process.stdin, output: process.stderr, ...(signal ? { signal } : {}) })
}
