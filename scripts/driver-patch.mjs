// A fix to the `postgres` driver (3.4.9), applied when lora is built (esbuild) and
// when the tests load the driver (vitest), so that the shipped binary and the tests
// run the same code.
//
// The defect: the driver defers small writes to a setImmediate. When a connection's
// socket closes, it cancels that timer but keeps its handle and the buffered bytes,
// and a write issued afterwards (the ROLLBACK of a transaction whose backend died,
// during a database restart) runs `socket.write` on a null socket from the timer:
// an uncaught TypeError that no caller can catch, which kills a long-running process.
// Worse, when the timer fires after the connection has reconnected, the stale bytes
// go first on the new socket and the pool hangs. The fix fails a statement sent to a
// closed connection at once (CONNECTION_CLOSED, which the caller handles), never
// writes to a null socket, and forgets the timer and the bytes on close.
// Reported upstream (porsager/postgres #1154, #1208), not fixed in a release yet.
// One more replacement is a startup cost, not a defect (its comment says which).
//
// Each replacement must match as many times as it says: a new driver version fails the build
// here, so that the fix is looked at again rather than silently dropped.

export const PATCHED_DRIVER = { name: 'postgres', version: '3.4.9', file: /[\\/]postgres[\\/]src[\\/]connection\.js$/ }

const replacements = [
  {
    what: 'a statement sent to a closed connection (a transaction whose backend died) fails at once',
    // Only a reserved connection (a transaction) is handed statements directly; the
    // pool reconnects the others first. \`true\` keeps the pool from moving it to "full".
    from: `      return queryError(q, Errors.connection('CONNECTION_DESTROYED', options))

    if (stream)`,
    to: `      return queryError(q, Errors.connection('CONNECTION_DESTROYED', options))

    if (!socket) {
      queryError(q, Errors.connection('CONNECTION_CLOSED', options))
      return true
    }

    if (stream)`,
    count: 1,
  },
  {
    what: 'a deferred write whose socket has closed is dropped, not sent to a null socket',
    // Its statements were rejected when the socket closed.
    from: `  function nextWrite(fn) {
    const x = socket.write(chunk, fn)`,
    to: `  function nextWrite(fn) {
    if (!socket) {
      chunk = nextWriteTimer = null
      return false
    }
    const x = socket.write(chunk, fn)`,
    count: 1,
  },
  {
    what: 'a close after a socket error also fails the statements sent since the error',
    // The error event failed those pending then; one sent between the error and the
    // close (a ROLLBACK) would otherwise wait forever. A failed statement is then
    // forgotten: left as current, it holds the pool's end() open until its timeout.
    from: `    !hadError && (query || sent.length) && error(Errors.connection('CONNECTION_CLOSED', options, socket))`,
    to: `    ;(query || sent.length) && (error(Errors.connection('CONNECTION_CLOSED', options, socket)), query = null)`,
    count: 1,
  },
  {
    what: 'a closed connection forgets the error its server sent before closing it',
    // A FATAL ErrorResponse (the server shutting down) arrives before the socket closes;
    // kept, it was raised on the next connection's start-up and left that connection
    // half open, so that statements queued on it waited until the next restart.
    from: `  async function closed(hadError) {
    incoming = Buffer.alloc(0)`,
    to: `  async function closed(hadError) {
    errorResponse = null
    incoming = Buffer.alloc(0)`,
    count: 1,
  },
  {
    what: 'terminate and close forget the cancelled timer and the bytes meant for the old socket',
    from: `    clearImmediate(nextWriteTimer)\n`,
    to: `    clearImmediate(nextWriteTimer)\n    chunk = nextWriteTimer = null\n`,
    count: 2,
  },
  {
    what: "the reconnection delay reads Node's monotonic clock without loading perf_hooks",
    // Not a defect: a cost. The driver reads performance.now() only when a connection
    // closes, which every short command does as it ends; loading perf_hooks then took
    // about 2 ms of each `lora jobs list`. process.hrtime is the same clock, loaded already.
    from: `import { performance } from 'perf_hooks'\n`,
    to: `const performance = { now: () => Number(process.hrtime.bigint()) / 1e6 }\n`,
    count: 1,
  },
]

/** The driver's connection.js with the fix applied; throws when the source is not the expected one. */
export function patchDriverConnection(source, id = 'postgres/src/connection.js') {
  let out = source
  for (const r of replacements) {
    const found = out.split(r.from).length - 1
    if (found !== r.count) {
      throw new Error(`${id}: the driver fix "${r.what}" expected ${r.count} match(es) and found ${found}; ` +
        `is the postgres driver still at ${PATCHED_DRIVER.version}? Review scripts/driver-patch.mjs.`)
    }
    out = out.split(r.from).join(r.to)
  }
  return out
}
