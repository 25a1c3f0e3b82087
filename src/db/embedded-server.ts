import { createServer, type Server, type Socket } from 'node:net'
import { chmod, rm } from 'node:fs/promises'
import type { PgliteHandle } from './pglite.js'

/** How long a socket client may hold a transaction open without a word. */
const IDLE_TRANSACTION_MS = 30_000

const SSL_REQUEST = 80877103
const GSSENC_REQUEST = 80877104
const CANCEL_REQUEST = 80877102
const PROTOCOL_3 = 196608
/** The server's own limit on a startup packet. */
const STARTUP_MAX = 10_000
/** No message of lora's is near this; a length above it is an attack or garbage. */
export const FRAME_MAX = 64 * 1024 * 1024
/** The message types a frontend may send (protocol 3.0). */
const FRONTEND_TYPES = new Set('BCcdDEfFHPpQSX')

/**
 * Serves the embedded database to other lora processes over a Unix socket.
 *
 * PGlite is one backend. Several clients may be connected, but their messages are
 * run in whole units (everything up to a Sync or a simple Query), each unit under
 * the same session lock as the in-process queries, and a client inside a
 * transaction keeps that lock until the transaction ends. So the extended-protocol
 * messages of two clients never interleave, and a transaction is never shared.
 */
export async function serveEmbedded(handle: PgliteHandle, socketPath: string): Promise<{ close(): Promise<void>; clients(): number }> {
  const server = await listenPrivate(socketPath, (socket) => serveConnection(handle, socket))
  return { clients: () => server.connections(), close: () => server.close() }
}

/**
 * A Unix socket server on `socketPath` (a stale socket file there is replaced): mode
 * 0600 whatever the umask, in a folder only its owner can enter. close() ends every
 * connection and removes the socket.
 */
export async function listenPrivate(socketPath: string, onConnection: (socket: Socket) => void): Promise<{ close(): Promise<void>; connections(): number }> {
  await rm(socketPath, { force: true })
  const sockets = new Set<Socket>()
  const server: Server = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    onConnection(socket)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(socketPath, () => {
      server.off('error', reject)
      resolve()
    })
  })
  await chmod(socketPath, 0o600)
  return {
    connections: () => sockets.size,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const s of sockets) s.destroy()
      })
      await rm(socketPath, { force: true })
    },
  }
}

function serveConnection(handle: PgliteHandle, socket: Socket): void {
  let buffer: Buffer = Buffer.alloc(0)
  let startupDone = false
  let unit: Uint8Array[] = []
  let unitBytes = 0
  // A unit ending in Flush is answered at once, but the client's statement is not done
  // until its Sync: the session stays this client's until then.
  const units: Uint8Array[][] = []
  const flushed = new WeakSet<Uint8Array[]>()
  let working = false
  let heldRelease: (() => void) | null = null
  let idleTimer: NodeJS.Timeout | undefined
  let closed = false

  const releaseHeld = () => {
    clearTimeout(idleTimer)
    heldRelease?.()
    heldRelease = null
  }

  const rollbackAndRelease = async () => {
    if (!heldRelease) return
    try {
      if (handle.pg.isInTransaction()) await handle.pg.exec('ROLLBACK')
    } finally {
      releaseHeld()
    }
  }

  socket.on('close', () => {
    closed = true
    units.length = 0
    void rollbackAndRelease()
  })
  socket.on('error', () => socket.destroy())

  const pump = async () => {
    if (working) return
    working = true
    try {
      while (units.length > 0 && !closed) {
        const next = units.shift()!
        if (units.length < 16 && socket.isPaused()) socket.resume()
        clearTimeout(idleTimer)
        const release = heldRelease ?? (await handle.session.acquire())
        heldRelease = null
        if (closed) {
          release()
          break
        }
        try {
          for (const message of next) {
            await handle.pg.runExclusive(() =>
              handle.pg.execProtocolRawStream(message, {
                onRawData: (data: Uint8Array) => {
                  if (!closed && data.length > 0) socket.write(data)
                },
              }),
            )
          }
        } catch {
          socket.destroy()
        }
        if (!closed && (handle.pg.isInTransaction() || flushed.has(next))) {
          heldRelease = release
          idleTimer = setTimeout(() => {
            void rollbackAndRelease().finally(() => socket.destroy())
          }, IDLE_TRANSACTION_MS)
        } else {
          release()
        }
      }
    } finally {
      working = false
    }
    if (closed) await rollbackAndRelease()
  }

  // A frame that breaks the protocol ends this client's connection, and only that.
  const drop = () => {
    buffer = Buffer.alloc(0)
    unit = []
    units.length = 0
    socket.destroy()
  }

  // Bytes received but not yet framed: kept as a list until a whole frame is there,
  // so a large frame is copied once, not once per chunk.
  let parts: Buffer[] = []
  let partsLength = 0
  let needed = 0

  socket.on('data', (chunk: Buffer) => {
    if (closed) return
    parts.push(chunk)
    partsLength += chunk.length
    if (buffer.length + partsLength < needed) return
    buffer = Buffer.concat([buffer, ...parts])
    parts = []
    partsLength = 0
    needed = 0
    while (buffer.length > 0) {
      if (!startupDone) {
        if (buffer.length < 4) break
        const length = buffer.readUInt32BE(0)
        if (length < 8 || length > STARTUP_MAX) return drop()
        if (buffer.length < length) {
          needed = length
          break
        }
        const code = buffer.readInt32BE(4)
        if (code !== SSL_REQUEST && code !== GSSENC_REQUEST && code !== CANCEL_REQUEST && code !== PROTOCOL_3) return drop()
        const message = buffer.subarray(0, length)
        buffer = buffer.subarray(length)
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
          socket.write('N')
          continue
        }
        if (code === CANCEL_REQUEST) {
          socket.end()
          return
        }
        startupDone = true
        units.push([new Uint8Array(message)])
        continue
      }
      const type = String.fromCharCode(buffer[0]!)
      if (!FRONTEND_TYPES.has(type)) return drop()
      if (buffer.length < 5) break
      const declared = buffer.readUInt32BE(1)
      if (declared < 4 || declared > FRAME_MAX) return drop()
      const length = declared + 1
      if (buffer.length < length) {
        needed = length
        break
      }
      const message = new Uint8Array(buffer.subarray(0, length))
      buffer = buffer.subarray(length)
      if (type === 'X') {
        // Terminate ends this client's connection, not the shared backend.
        socket.end()
        return
      }
      unit.push(message)
      unitBytes += length
      // Messages without a Sync pile up here: no more than one frame's worth.
      if (unitBytes > FRAME_MAX) return drop()
      if (type === 'S' || type === 'Q' || type === 'H') {
        if (type === 'H') flushed.add(unit)
        units.push(unit)
        unit = []
        unitBytes = 0
      }
    }
    // A client that sends faster than the database answers waits (TCP backpressure).
    if (units.length > 64) socket.pause()
    void pump()
  })
}
