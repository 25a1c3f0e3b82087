import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, mkdirSync, openSync } from 'node:fs'
import { join } from 'node:path'
import type { Clock } from './clock.js'
import type { ResolvedConfig } from './config/schema.js'
import type { Db, Queryable } from './db/types.js'
import { connectEmbedded, embeddedBusy, readHolder, type EmbeddedDb } from './db/embedded.js'
import { LoraError, UsageError } from './errors.js'
import { isConnectionError } from './db/failures.js'
import { SERVICE_LOG } from './local.js'

export interface ServiceClientOptions {
  clock: Clock
  env: Record<string, string | undefined>
  cwd: string
  /** Whether this command may create the stack (`db migrate`): the others only use one. */
  create: boolean
  /** Global flags the service must be started with, so that it resolves the same profile. */
  serviceArgs: string[]
  /** How long to wait for the service to answer. */
  waitMs: number
}

const STARTING_WAIT_MS = 120_000

/** Errors of a connection that never opened: nothing was sent, so the statement can be sent again. */
const NEVER_SENT = new Set(['ENOENT', 'ECONNREFUSED'])

/**
 * The embedded database as a client of the stack's local service, which the first
 * command starts in the background. The connection outlives the service: when it
 * dies (kill -9), the next statement reaches a replacement, started if need be.
 * A statement that never left is sent again; one lost in flight fails as a lost
 * connection, which long-lived commands ride out.
 */
export async function openServiceClient(config: ResolvedConfig, options: ServiceClientOptions): Promise<EmbeddedDb> {
  if (config.stackFound === false && !options.create) throw noStack(config, options.cwd)
  let current: Promise<EmbeddedDb> | null = null
  const reach = () => (current ??= reachService(config, options))
  await reach().catch((error: unknown) => {
    current = null
    throw error
  })

  const use = async <T>(fn: (db: EmbeddedDb) => Promise<T>): Promise<T> => {
    for (let attempt = 0; ; attempt++) {
      const pending = reach()
      let db: EmbeddedDb
      try {
        db = await pending
      } catch (error) {
        if (current === pending) current = null
        throw error
      }
      try {
        return await fn(db)
      } catch (error) {
        if (!isConnectionError(error)) throw error
        // This connection is over: the next use reaches the service again.
        if (current === pending) {
          current = null
          void db.close().catch(() => {})
        }
        const code = (error as { code?: string }).code ?? ''
        if (!NEVER_SENT.has(code) || attempt >= 2) throw error
      }
    }
  }
  const first = await current!
  return {
    kind: 'pglite-socket',
    mode: 'client',
    ...(first.socketPath ? { socketPath: first.socketPath } : {}),
    query: <T extends object>(sql: string, params?: readonly unknown[]) => use((db) => db.query<T>(sql, params)),
    transaction: <T>(fn: (tx: Queryable) => Promise<T>) => use((db) => db.transaction(fn)),
    exec: (sql: string) => use((db) => db.exec(sql)),
    listen: (channel: string, onMessage: (payload: string) => void) => use((db) => db.listen(channel, onMessage)),
    notify: (channel: string, payload: string) => use((db) => db.notify(channel, payload)),
    close: async () => {
      const open = current
      current = null
      if (open) await (await open.catch(() => null))?.close()
    },
  } satisfies Db & EmbeddedDb
}

export function noStack(config: ResolvedConfig, cwd: string): UsageError {
  return new UsageError(`No lora stack found in ${cwd} or any folder above it (looked for .lora/db).`, {
    code: 'no_stack',
    hint: `Create one here with \`lora local start\` or \`lora db migrate\` (it goes in ${config.stateDir}), or cd into a project that has one.`,
  })
}

/** Connects to the stack's service, starting one in the background when none runs. */
async function reachService(config: ResolvedConfig, options: ServiceClientOptions): Promise<EmbeddedDb> {
  const dir = config.database!.dir!
  const { clock } = options
  const deadline = clock.now().getTime() + options.waitMs
  // A service that is starting (creating and migrating a new database takes a while
  // on a busy machine) is waited for longer than a process that holds it without serving.
  const startingDeadline = clock.now().getTime() + Math.max(options.waitMs, STARTING_WAIT_MS)
  let child: ChildProcess | null = null
  let exitCode: number | null = null
  let starts = 0
  let delay = 20
  try {
    for (;;) {
      const holder = await readHolder(dir)
      if (holder?.socket) {
        try {
          return await connectEmbedded(holder.socket)
        } catch {
          // The service is still getting ready (migrating), or just went away.
        }
      } else if (!holder && (child === null || exitCode !== null)) {
        // A service that exits at once with a failure will fail again: say so with its log.
        if (exitCode !== null && exitCode !== 0) throw serviceFailed(config, exitCode)
        if (starts >= 3) throw serviceFailed(config, exitCode ?? 0)
        starts += 1
        exitCode = null
        child = startInBackground(config, options)
        child.once('exit', (code) => (exitCode = code ?? 1))
      }
      if (clock.now().getTime() > (holder?.socket || (child && exitCode === null) ? startingDeadline : deadline)) {
        if (holder) throw embeddedBusy(dir, holder.pid)
        throw new LoraError(`The local service of ${config.stateDir} did not answer within ${Math.round(options.waitMs / 1000)} s.`, {
          code: 'local_unavailable',
          hint: `See its log: ${join(config.stateDir, SERVICE_LOG)}.`,
        })
      }
      await clock.sleep(delay)
      delay = Math.min(delay * 2, 200)
    }
  } finally {
    child?.removeAllListeners('exit')
  }
}

function serviceFailed(config: ResolvedConfig, code: number): LoraError {
  return new LoraError(`The local service of ${config.stateDir} could not start (exit ${code}).`, {
    code: 'local_unavailable',
    hint: `See its log: ${join(config.stateDir, SERVICE_LOG)}.`,
  })
}

/** `lora local start --background`, detached, its output in .lora/service.log. */
function startInBackground(config: ResolvedConfig, options: ServiceClientOptions): ChildProcess {
  mkdirSync(config.stateDir, { recursive: true, mode: 0o700 })
  const log = join(config.stateDir, SERVICE_LOG)
  const fd = openSync(log, 'a', 0o600)
  try {
    // The same lora that runs now: the launcher is the script node was given.
    const bin = process.argv[1]!
    const child = spawn(process.execPath, [bin, ...options.serviceArgs, 'local', 'start', '--background'], {
      cwd: options.cwd,
      env: options.env as NodeJS.ProcessEnv,
      detached: true,
      stdio: ['ignore', fd, fd],
    })
    child.unref()
    return child
  } finally {
    closeSync(fd)
  }
}

