import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { tmpdir } from 'node:os'
import type { Db } from './types.js'
import { LoraError } from '../errors.js'
import type { Clock } from '../clock.js'
import { recordAlive, tryLock, type LockRecord } from '../lockfile.js'

/** The PGlite data folder inside the stack's database folder (`.lora/db`). */
export const PGLITE_DATA = 'pgdata'

/**
 * PGlite has no lock of its own: two processes that open one data directory both
 * succeed and corrupt it. So lora takes this lock first (src/lockfile.ts: taken
 * atomically, a dead holder's lock taken over after a re-check). The holder's record
 * names the socket it serves the database on, when it serves it.
 */
export interface HolderInfo {
  socket?: string
  since: string
}

export type Holder = HolderInfo & LockRecord

export interface EmbeddedOptions {
  /** The embedded data directory (holds the PGlite data under pgdata/). */
  dir: string
  /** Serve the database over a local socket to other lora processes. */
  serve: boolean
  clock: Clock
  /** How long to wait for another process that holds the database without serving it. */
  waitMs?: number
  /**
   * Work done on the held database before its socket accepts anyone (the local
   * service migrates and starts its parts), so no client sees it half ready.
   */
  beforeServe?: (db: Db, socketPath: string | undefined) => Promise<void>
}

export interface EmbeddedDb extends Db {
  /** 'held': this process opened the data directory; 'client': it talks to the process that holds it. */
  readonly mode: 'held' | 'client'
  readonly socketPath?: string
  /** Socket clients connected right now (held and served only). */
  clients?(): number
}

export const LOCK_FILE = 'db.lock'
/** Unix socket paths are limited to 108 bytes on Linux, 104 on macOS. */
const SOCKET_PATH_MAX = 100

/**
 * Where the socket goes: in the data directory, which only its owner can enter;
 * when that path is too long for a socket, in a fresh private folder (mkdtemp),
 * never at a predictable shared path that another user could create first.
 */
async function socketPlace(dir: string): Promise<{ path: string; remove(): Promise<void> }> {
  const local = join(dir, 'db.sock')
  if (Buffer.byteLength(local) < SOCKET_PATH_MAX) {
    await chmod(dir, 0o700)
    return { path: local, remove: () => rm(local, { force: true }) }
  }
  const folder = await mkdtemp(join(tmpdir(), 'lora-'))
  return { path: join(folder, 'db.sock'), remove: () => rm(folder, { recursive: true, force: true }) }
}

/** The record of the process holding the embedded database in `dir`, if one is alive. */
export async function readHolder(dir: string): Promise<Holder | null> {
  try {
    const record = JSON.parse(await readFile(join(dir, LOCK_FILE), 'utf8')) as Holder
    return typeof record.pid === 'number' && recordAlive({ pid: record.pid, token: record.token ?? '' }) ? record : null
  } catch {
    return null
  }
}

/**
 * Takes the lock of the embedded database and opens it here (serving it, when
 * `serve`); or, when a live process holds it, says who.
 */
export async function holdEmbedded(options: EmbeddedOptions): Promise<{ db: EmbeddedDb } | { holder: Holder }> {
  const { dir, clock } = options
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const socket = options.serve ? await socketPlace(dir) : null
  const attempt = await tryLock<HolderInfo>(join(dir, LOCK_FILE), { since: clock.now().toISOString(), ...(socket ? { socket: socket.path } : {}) })
  if (!attempt.acquired) {
    // The private folder is ours alone; the socket file in the data directory is the holder's.
    if (socket && socket.path !== join(dir, 'db.sock')) await socket.remove()
    return { holder: attempt.holder }
  }
  // A process that exits without close() (an uncaught error, process.exit) must
  // not leave a lock naming it; a later process would otherwise wait for nothing.
  const onExit = () => attempt.releaseSync()
  process.once('exit', onExit)
  let handle: import('./pglite.js').PgliteHandle | undefined
  let server: { close(): Promise<void>; clients(): number } | undefined
  const release = async () => {
    process.off('exit', onExit)
    await server?.close().catch(() => {})
    await socket?.remove()
    await handle?.db.close().catch(() => {})
    await attempt.release()
  }
  try {
    const { openPglite } = await import('./pglite.js')
    handle = await openPglite(join(dir, PGLITE_DATA))
    await options.beforeServe?.(handle.db, socket?.path)
    if (socket) {
      const { serveEmbedded } = await import('./embedded-server.js')
      server = await serveEmbedded(handle, socket.path)
    }
  } catch (error) {
    await release()
    throw error
  }
  const served = server
  return {
    db: {
      ...handle.db,
      mode: 'held',
      ...(socket ? { socketPath: socket.path } : {}),
      ...(served ? { clients: () => served.clients() } : {}),
      close: release,
    },
  }
}

/**
 * Opens the embedded database: through the socket of the process that holds it, or
 * by taking the lock and opening it here (and serving it, when `serve`).
 */
export async function openEmbedded(options: EmbeddedOptions): Promise<EmbeddedDb> {
  const { dir, clock } = options
  const deadline = clock.now().getTime() + (options.waitMs ?? 30_000)
  let delay = 50
  for (;;) {
    const held = await holdEmbedded(options)
    if ('db' in held) return held.db
    const holder = held.holder
    // The holder may be this very process (the demo runs commands in-process): its
    // socket serves it like any other client.
    if (holder.socket) {
      try {
        return await connectEmbedded(holder.socket)
      } catch {
        // The holder is starting or shutting down; try again.
      }
    }
    if (clock.now().getTime() > deadline) throw embeddedBusy(dir, holder.pid)
    await clock.sleep(delay)
    delay = Math.min(delay * 2, 500)
  }
}

export function embeddedBusy(dir: string, pid: number): LoraError {
  return new LoraError(`The embedded database in ${dir} is in use by process ${pid}.`, {
    code: 'embedded_busy',
    hint: 'Wait for that command to finish, or run `lora local start` so that commands share it.',
  })
}

export async function connectEmbedded(socketPath: string): Promise<EmbeddedDb> {
  const { openPostgres } = await import('./postgres.js')
  // One connection: the served backend is one session, shared by turns.
  const db = await openPostgres({ socketPath, max: 1, kind: 'pglite-socket', connectTimeoutSeconds: 5 })
  try {
    await db.query('SELECT 1')
  } catch (error) {
    await db.close().catch(() => {})
    throw error
  }
  return { ...db, mode: 'client', socketPath }
}

/** Writes a small file beside the data: what the local service tells other processes. */
export async function writeEmbeddedInfo(dir: string, info: Record<string, unknown>): Promise<void> {
  await writeFile(join(dir, 'local.json'), JSON.stringify(info, null, 2), { mode: 0o600 })
}
