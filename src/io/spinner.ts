import type { IO } from './streams.js'

export interface Spinner {
  update(text: string): void
  succeed(text?: string): void
  fail(text?: string): void
  stop(): void
}

/**
 * A spinner on stderr when it is a terminal; otherwise the same news as plain
 * lines, once each, so logs of cron and CI still say what happened.
 */
export async function startSpinner(io: IO, text: string): Promise<Spinner> {
  if (!io.stderrIsTTY) {
    return {
      update: () => {},
      succeed: (t) => io.err(t ?? text),
      fail: (t) => io.err(t ?? text),
      stop: () => {},
    }
  }
  const { default: ora } = await import('ora')
  const spinner = ora({ text, stream: io.stderr as NodeJS.WritableStream, color: io.errColor ? 'cyan' : false as never, isEnabled: true }).start()
  return {
    update: (t) => (spinner.text = t),
    succeed: (t) => spinner.succeed(t),
    fail: (t) => spinner.fail(t),
    stop: () => spinner.stop(),
  }
}
