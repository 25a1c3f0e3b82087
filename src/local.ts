import { join } from 'node:path'
import { readFile, stat } from 'node:fs/promises'
import type { Context } from './context.js'
import { createContext } from './context.js'
import { migrate } from './db/migrate.js'
import { holdEmbedded, readHolder, writeEmbeddedInfo, type EmbeddedDb, type Holder } from './db/embedded.js'
import { LoraError, UsageError } from './errors.js'
import { simulatorSpeed, type ResolvedConfig } from './config/schema.js'
import { COMMAND_SOCKET, serveCommands, type CommandServer } from './local-commands.js'

/** Beside the data: what the running service tells the other lora processes. */
export const INFO_FILE = 'local.json'
/** The log of a service started in the background. */
export const SERVICE_LOG = 'service.log'
/** How long a service started in the background waits with no client and no job before it exits. */
export const DEFAULT_IDLE_MS = 10 * 60_000

export interface LocalStackInfo {
  pid: number
  database: string
  socket: string
  storage: string
  /** Base URL of the folder storage's signed URLs, when the stack has folder storage. */
  storageUrl: string | null
  migrated: string[]
  /** The GPU cluster simulator's URL, when the profile uses the simulator. */
  simulator: string | null
  /** Its simulated time per real time. */
  simulatorSpeed: number | null
  /** Whether the service processes jobs itself (`--no-daemon` leaves it to `lora daemon`). */
  daemon: boolean
  /** Exits after this long with no client and no job in flight; null: runs until stopped. */
  idleMs: number | null
  log: string | null
  since: string
}

export interface LocalStack {
  info: LocalStackInfo
  /** The held database, for work done in this process. */
  db: EmbeddedDb
  /** The simulator it runs, for faults injected in this process (the demo). */
  simulator: import('./cluster/simulator.js').Simulator | null
  /** Resolves when the service should stop: interrupted, or idle for idleMs. */
  done: Promise<'interrupted' | 'idle'>
  stop(): Promise<void>
}

export interface LocalStackOptions {
  daemon: boolean
  idleMs: number | null
  /** Where the service's output goes (background services); shown by `local status`. */
  log?: string
  /** The job processor's cycle (2 s by default: a laptop wants its job picked up at once). */
  daemonIntervalMs?: number
  /** The simulator's speed (`local start --speed`); the profile's simulator.speed by default. */
  simulatorSpeed?: number
}

function embeddedDir(config: ResolvedConfig): string {
  const dir = config.database?.embedded ? config.database.dir : undefined
  if (!dir) {
    throw new UsageError(`The local service runs the embedded stack, but profile ${config.profile} uses a server database.`, {
      code: 'not_embedded',
      hint: 'Run it without DATABASE_URL (or with DATABASE_URL=embedded), or in a directory without that profile.',
    })
  }
  return dir
}

/**
 * The local service of an embedded stack (`lora local start`, in the foreground or
 * started in the background by the first command that needs it): it holds the
 * database and serves it on its socket, migrated; the folder storage with its
 * buckets and signed URLs; the cluster simulator; and, unless told not to, a job
 * processor. Everything is ready before the socket accepts its first client.
 */
export async function startLocalStack(ctx: Context, options: LocalStackOptions): Promise<LocalStack | { running: Holder }> {
  const config = await ctx.config()
  const dir = embeddedDir(config)
  const closers: (() => Promise<void>)[] = []
  const closeAll = async () => {
    for (const close of closers.splice(0).reverse()) await close().catch(() => {})
  }
  let info: LocalStackInfo | undefined
  let simulatorHandle: import('./cluster/simulator.js').Simulator | null = null
  // A replacement (after a crash) serves on the ports its predecessor used, so that
  // the clients' simulator and signed URLs keep working.
  const previous = await readInfo(config.stateDir)
  let held: Awaited<ReturnType<typeof holdEmbedded>>
  try {
    held = await holdEmbedded({
      dir,
      serve: true,
      clock: ctx.clock,
      beforeServe: async (db, socket) => {
        const result = await migrate(db)
        let storageUrl: string | null = null
        if (config.storage?.kind === 'folder') {
          const { FolderStorage } = await import('./storage/folder.js')
          const { BUCKETS } = await import('./storage/types.js')
          const storage = new FolderStorage(config.storage.dir, ctx.clock)
          for (const bucket of Object.values(BUCKETS)) await storage.ensureBucket(bucket)
          const { serveFolderStorage } = await import('./storage/server.js')
          const storageDir = config.storage.dir
          const server = await onPreviousPort(previous?.storageUrl, (port) => serveFolderStorage(storageDir, { clock: ctx.clock, port }))
          closers.push(() => server.close())
          storageUrl = server.url
        }
        let simulator: string | null = null
        let speed: number | null = null
        if (config.clusters.some((c) => c.url === 'simulator')) {
          const { startSimulator } = await import('./cluster/simulator.js')
          speed = options.simulatorSpeed ?? simulatorSpeed(config)
          const sim = await onPreviousPort(previous?.simulator, (port) => startSimulator({ stateFile: join(config.stateDir, 'simulator.json'), speed: speed!, clock: ctx.clock, port }))
          closers.push(() => sim.close())
          simulator = sim.url
          simulatorHandle = sim
        }
        info = {
          pid: process.pid,
          database: dir,
          socket: socket ?? '',
          storage: config.storage?.kind === 'folder' ? config.storage.dir : 'none',
          storageUrl,
          migrated: result.applied.map((m) => `${String(m.version).padStart(4, '0')}_${m.name}`),
          simulator,
          simulatorSpeed: speed,
          daemon: options.daemon,
          idleMs: options.idleMs,
          log: options.log ?? null,
          since: ctx.clock.now().toISOString(),
        }
        // Written before the socket opens: a client that reaches the database finds the
        // simulator too. Kept after the service ends: the next one reuses its ports.
        await writeEmbeddedInfo(config.stateDir, info as unknown as Record<string, unknown>)
      },
    })
  } catch (error) {
    await closeAll()
    throw error
  }
  if ('holder' in held) return { running: held.holder }
  const db = held.db
  closers.unshift(() => db.close())
  // The read commands of this stack's lora processes run here (src/local-commands.ts),
  // on a socket beside the database's, where bin/lora looks for it: not when the
  // database's socket had to go elsewhere (a data folder whose path is too long).
  let commands: CommandServer | null = null
  if (db.socketPath === join(dir, 'db.sock')) {
    try {
      const server = await serveCommands(join(dir, COMMAND_SOCKET), dir)
      closers.push(() => server.close())
      commands = server
    } catch (error) {
      await closeAll()
      throw error
    }
  }

  // The job processor runs on the held database, in this process.
  const stopping = new AbortController()
  const service = createContext({ io: ctx.io, env: ctx.env, cwd: ctx.cwd, clock: ctx.clock, globals: ctx.globals, signal: stopping.signal, db, config })
  if (options.daemon) {
    const { runDaemon } = await import('./daemon/daemon.js')
    const { daemonHooks } = await import('./daemon/hooks.js')
    const daemon = runDaemon(service, { once: false, intervalMs: options.daemonIntervalMs ?? 2_000, concurrency: 8, batch: 10, pollLimit: 1000, hooks: await daemonHooks(service, { once: false }) }).catch((error: unknown) => {
      ctx.io.err(`the job processor stopped: ${(error as Error).message}`)
      return 1
    })
    closers.push(async () => {
      stopping.abort()
      await daemon
    })
  }
  closers.push(() => service.close())

  const done = new Promise<'interrupted' | 'idle'>((resolve) => {
    if (ctx.signal.aborted) return resolve('interrupted')
    ctx.signal.addEventListener('abort', () => resolve('interrupted'), { once: true })
    const inFlight = () => (db.clients?.() ?? 0) + (commands?.running() ?? 0)
    if (options.idleMs !== null) void watchIdle(ctx, db, inFlight, options.idleMs, stopping.signal).then((idle) => idle && resolve('idle'))
  })
  return {
    info: info!,
    db,
    simulator: simulatorHandle,
    done,
    stop: async () => {
      stopping.abort()
      await closeAll()
    },
  }
}

async function readInfo(stateDir: string): Promise<Partial<LocalStackInfo> | null> {
  try {
    return JSON.parse(await readFile(join(stateDir, INFO_FILE), 'utf8')) as Partial<LocalStackInfo>
  } catch {
    return null
  }
}

/** Listens on the port of `previousUrl` when it is free, on any port otherwise. */
async function onPreviousPort<T>(previousUrl: string | null | undefined, start: (port: number) => Promise<T>): Promise<T> {
  const port = previousUrl ? Number(new URL(previousUrl).port) : 0
  if (port > 0) {
    try {
      return await start(port)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error
    }
  }
  return start(0)
}

/**
 * Resolves true once the service has had no client (a connection to its database,
 * a command it runs) and no job in flight for idleMs; false when the service stops first.
 */
async function watchIdle(ctx: Context, db: EmbeddedDb, clients: () => number, idleMs: number, signal: AbortSignal): Promise<boolean> {
  const { countJobsByStatus } = await import('./db/queries/heartbeats.js')
  const step = Math.max(50, Math.min(5_000, Math.floor(idleMs / 4)))
  let idleSince = ctx.clock.now().getTime()
  for (;;) {
    try {
      await ctx.clock.sleep(step, AbortSignal.any([signal, ctx.signal]))
    } catch {
      return false
    }
    let busy = clients() > 0
    if (!busy) {
      const counts = await countJobsByStatus(db).catch(() => ({}) as Record<string, number>)
      busy = (counts.queued ?? 0) + (counts.initializing ?? 0) + (counts.running ?? 0) > 0
    }
    const now = ctx.clock.now().getTime()
    if (busy) idleSince = now
    else if (now - idleSince >= idleMs) return true
  }
}

export interface LocalStatus {
  running: boolean
  pid: number | null
  stack: string
  socket: string | null
  /** Where it runs read commands for bin/lora (src/local-commands.ts), when it does. */
  command_socket: string | null
  storage_url: string | null
  simulator: string | null
  /** Simulated time per real time of that simulator. */
  simulator_speed: number | null
  daemon: boolean | null
  idle_ms: number | null
  since: string | null
  log: string | null
}

/** What `lora local status` reports: the lock says who holds the stack, the info file what it serves. */
export async function localStatus(config: ResolvedConfig): Promise<LocalStatus> {
  const dir = embeddedDir(config)
  const holder = await readHolder(dir)
  const read = await readInfo(config.stateDir)
  const info: Partial<LocalStackInfo> = holder && read?.pid === holder.pid ? read : {}
  const commands = join(dir, COMMAND_SOCKET)
  const servesCommands = holder !== null && (await stat(commands).then((s) => s.isSocket(), () => false))
  return {
    running: holder !== null,
    pid: holder?.pid ?? null,
    stack: config.stateDir,
    socket: holder?.socket ?? null,
    command_socket: servesCommands ? commands : null,
    storage_url: info.storageUrl ?? null,
    simulator: info.simulator ?? null,
    simulator_speed: info.simulatorSpeed ?? null,
    daemon: info.daemon ?? null,
    idle_ms: info.idleMs ?? null,
    since: holder?.since ?? null,
    log: info.log ?? null,
  }
}

/** Stops the service of this stack (SIGTERM, as Ctrl-C does) and waits until it has let go. */
export async function stopLocalService(ctx: Context, timeoutMs: number): Promise<number | null> {
  const config = await ctx.config()
  const dir = embeddedDir(config)
  const holder = await readHolder(dir)
  if (!holder) return null
  if (holder.pid === process.pid) throw new LoraError('This process holds the stack itself.', { code: 'embedded_busy' })
  process.kill(holder.pid, 'SIGTERM')
  const deadline = ctx.clock.now().getTime() + timeoutMs
  while ((await readHolder(dir))?.token === holder.token) {
    if (ctx.clock.now().getTime() > deadline) {
      throw new LoraError(`The local service (pid ${holder.pid}) did not stop within ${Math.round(timeoutMs / 1000)} s.`, {
        code: 'local_stop_timeout',
        hint: `Look at its log, or end it with kill ${holder.pid}.`,
      })
    }
    await ctx.clock.sleep(100, ctx.signal)
  }
  return holder.pid
}
