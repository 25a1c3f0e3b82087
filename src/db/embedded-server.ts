import { createServer, type Server, type Socket } from 'node:net'
import { rm } from 'node:fs/promises'
import type { PgliteHandle } from './pglite.js'

/** How long a socket client may hold a transaction open without a word. */
const IDLE_TRANSACTION_MS = 30_000

const SSL_REQUEST = 80877103
const GSSENC_REQUEST = 80877104
const CANCEL_REQUEST = 80877102

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
  await rm(socketPath, { force: true })
  const sockets = new Set<Socket>()
  const server: Server = createServer((socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    serveConnection(handle, socket)
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(socketPath, () => {
      server.off('error', reject)
      resolve()
    })
  })
  return {
    clients: () => sockets.size,
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

  socket.on('data', (chunk: Buffer) => {
    buffer = buffer.length === 0 ? chunk : Buffer.concat([buffer, chunk])
    while (true) {
      if (!startupDone) {
        if (buffer.length < 8) break
        const length = buffer.readInt32BE(0)
        if (buffer.length < length) break
        const code = buffer.readInt32BE(4)
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
      if (buffer.length < 5) break
      const length = buffer.readInt32BE(1) + 1
      if (buffer.length < length) break
      const type = String.fromCharCode(buffer[0]!)
      const message = new Uint8Array(buffer.subarray(0, length))
      buffer = buffer.subarray(length)
      if (type === 'X') {
        // Terminate ends this client's connection, not the shared backend.
        socket.end()
        return
      }
      unit.push(message)
      if (type === 'S' || type === 'Q' || type === 'H') {
        if (type === 'H') flushed.add(unit)
        units.push(unit)
        unit = []
      }
    }
    void pump()
  })
}
