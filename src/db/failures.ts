/**
 * Which database failures a long-running command (the daemon, `jobs watch`) rides
 * out: a lost connection is an outage to wait through, a fault of a statement or of
 * lora's own code is not.
 */

const CONNECTION_CODES = new Set([
  'ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'ENOENT',
  'CONNECT_TIMEOUT', 'CONNECTION_CLOSED', 'CONNECTION_ENDED', 'CONNECTION_DESTROYED',
  // admin_shutdown, crash_shutdown, cannot_connect_now, too_many_connections
  '57P01', '57P02', '57P03', '53300',
])

/** A failure of the connection (worth retrying), as opposed to a fault of the statement. */
export function isConnectionError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code
  if (typeof code !== 'string') return false
  return CONNECTION_CODES.has(code) || code.startsWith('08')
}

// The driver's own modules, as they appear in a stack: its files under node_modules
// (tests, and the built binary once source maps are on: see rideOutStrayConnectionFailures).
const DRIVER_FRAME = /[\\/]node_modules[\\/]postgres[\\/]/
const NODE_FRAME = /\((node:|internal\/|<anonymous>\))|at (node:|internal\/)/

/**
 * An error that no caller awaited, raised by a database connection rather than by a
 * statement or by lora's code: classified by where it came from (the first frame
 * outside Node's own modules is the driver's), or by a connection-class code. A
 * statement's failure always reaches the code that awaits it, so an error that
 * surfaces on its own and comes from the driver is the connection's.
 */
export function isStrayConnectionFailure(error: unknown): boolean {
  if (isConnectionError(error)) return true
  const stack = (error as { stack?: unknown } | null)?.stack
  if (typeof stack !== 'string') return false
  const frames = stack.split('\n').filter((line) => /^\s+at /.test(line))
  const origin = frames.find((frame) => !NODE_FRAME.test(frame))
  return origin !== undefined && DRIVER_FRAME.test(origin)
}

/**
 * For a long-running command: a connection failure that surfaces outside any awaited
 * call (a socket dying between two statements while the database restarts) is
 * reported through `onRiddenOut` and the command carries on; it reopens connections
 * on next use. Anything else is told to `onFatal` (to log it), then handed on, as if
 * these handlers were not there, to the process's own (bin/lora.ts: one redacted
 * sentence, exit 1). Returns the function that removes the handlers.
 */
export function rideOutStrayConnectionFailures(onRiddenOut: (error: Error) => void, onFatal: (error: unknown) => void = () => {}): () => void {
  // The built binary bundles the driver: with source maps on, its frames name its own
  // files, so the classification above holds there as in the tests. Set before the
  // database is opened, so that the driver's code is loaded with its map.
  process.setSourceMapsEnabled(true)
  const events = ['uncaughtException', 'unhandledRejection'] as const
  const handlers = events.map((event) => {
    const handler = (error: unknown) => {
      if (isStrayConnectionFailure(error)) return onRiddenOut(error as Error)
      onFatal(error)
      stop()
      process.emit(event as 'uncaughtException', error as Error)
    }
    process.on(event, handler)
    return [event, handler] as const
  })
  const stop = () => {
    for (const [event, handler] of handlers) process.off(event, handler)
  }
  return stop
}
