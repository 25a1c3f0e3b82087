import { mkdir, readFile, rm, writeFile, open as openFile } from 'node:fs/promises'
import { existsSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { createHash } from 'node:crypto'
import { tmpdir } from 'node:os'
import type { Db } from './types.js'
import { LoraError } from '../errors.js'
import type { Clock } from '../clock.js'

/**
 * PGlite has no lock of its own: two processes that open one data directory both
 * succeed and corrupt it. So lora takes this lock file first. The holder writes its
 * pid and, when it serves the database to others, the socket they connect to.
 */
interface LockInfo {
  pid: number
  socket?: string
  since: string
}

export interface EmbeddedOptions {
  /** The embedded data directory (holds the PGlite data under pgdata/). */
  dir: string
  /** A long-lived process serves the database over a local socket to other lora processes. */
  serve: boolean
  clock: Clock
  /** How long to wait for another process that holds the database without serving it. */
  waitMs?: number
}

export interface EmbeddedDb extends Db {
  /** 'held': this process opened the data directory; 'client': it talks to the process that holds it. */
  readonly mode: 'held' | 'client'
  readonly socketPath?: string
}

function pidAlive(pid: number): boolean {
  if (pid === process.pid) return true
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Unix socket paths are limited to about 100 bytes: long ones go to the temp folder. */
export function socketPathFor(dir: string): string {
  const local = join(dir, 'db.sock')
  if (Buffer.byteLength(local) < 100) return local
  return join(tmpdir(), `lora-${createHash('sha256').update(dir).digest('hex').slice(0, 16)}.sock`)
}

async function readLock(path: string): Promise<LockInfo | null> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as LockInfo
  } catch {
    return null
  }
}

async function tryCreateLock(path: string, info: LockInfo): Promise<boolean> {
  try {
    const file = await openFile(path, 'wx', 0o600)
    await file.writeFile(JSON.stringify(info))
    await file.close()
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw error
  }
}

/**
 * Opens the embedded database: through the socket of the process that holds it, or
 * by taking the lock and opening it here (and serving it, when `serve`).
 */
export async function openEmbedded(options: EmbeddedOptions): Promise<EmbeddedDb> {
  const { dir, clock } = options
  await mkdir(dir, { recursive: true, mode: 0o700 })
  const lockPath = join(dir, 'db.lock')
  const deadline = clock.now().getTime() + (options.waitMs ?? 30_000)
  let delay = 50

  for (;;) {
    const socketPath = options.serve ? socketPathFor(dir) : undefined
    const info: LockInfo = { pid: process.pid, since: clock.now().toISOString(), ...(socketPath ? { socket: socketPath } : {}) }
    if (await tryCreateLock(lockPath, info)) {
      try {
        return await holdEmbedded(dir, lockPath, socketPath)
      } catch (error) {
        await rm(lockPath, { force: true })
        throw error
      }
    }
    const holder = await readLock(lockPath)
    if (holder === null || !pidAlive(holder.pid)) {
      // The holder died without cleaning up: the lock is stale.
      await rm(lockPath, { force: true })
      continue
    }
    // The holder may be this very process (the demo runs commands in-process): its
    // socket serves it like any other client.
    if (holder.socket && existsSync(holder.socket)) {
      try {
        return await connectEmbedded(holder.socket)
      } catch {
        // The holder is shutting down; try again.
      }
    }
    if (clock.now().getTime() > deadline) {
      throw new LoraError(`The embedded database in ${dir} is in use by process ${holder.pid}.`, {
        code: 'embedded_busy',
        hint: 'Wait for that command to finish, or run `lora local start` so that commands share it.',
      })
    }
    await clock.sleep(delay)
    delay = Math.min(delay * 2, 500)
  }
}

async function holdEmbedded(dir: string, lockPath: string, socketPath: string | undefined): Promise<EmbeddedDb> {
  const { openPglite } = await import('./pglite.js')
  const handle = await openPglite(join(dir, 'pgdata'))
  let server: { close(): Promise<void> } | undefined
  if (socketPath) {
    const { serveEmbedded } = await import('./embedded-server.js')
    server = await serveEmbedded(handle, socketPath)
  }
  const release = async () => {
    await server?.close()
    await handle.db.close()
    await rm(lockPath, { force: true })
  }
  // A process that exits without close() (an uncaught error, process.exit) must
  // not leave a lock naming it; a later process would otherwise wait for nothing.
  const onExit = () => {
    try {
      rmSync(lockPath, { force: true })
    } catch {
      // Nothing more can be done while exiting.
    }
  }
  process.once('exit', onExit)
  return {
    ...handle.db,
    mode: 'held',
    ...(socketPath ? { socketPath } : {}),
    close: async () => {
      process.off('exit', onExit)
      await release()
    },
  }
}


async function connectEmbedded(socketPath: string): Promise<EmbeddedDb> {
  const { openPostgres } = await import('./postgres.js')
  // One connection: the served backend is one session, shared by turns.
  const db = await openPostgres({ socketPath, max: 1, kind: 'pglite-socket', connectTimeoutSeconds: 5 })
  await db.query('SELECT 1')
  return { ...db, mode: 'client', socketPath }
}

/** Writes a small file beside the data: what `lora local start` tells other terminals. */
export async function writeEmbeddedInfo(dir: string, info: Record<string, unknown>): Promise<void> {
  await writeFile(join(dir, 'local.json'), JSON.stringify(info, null, 2), { mode: 0o600 })
}
