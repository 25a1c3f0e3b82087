import { homedir } from 'node:os'
import type { Clock } from './clock.js'
import { systemClock } from './clock.js'
import type { Db } from './db/types.js'
import type { ResolvedConfig } from './config/schema.js'
import type { LoadedConfig } from './config/load.js'
import { IO } from './io/streams.js'
import { terminalPrompter, type Prompter } from './io/prompter.js'
import { LoraError, UsageError } from './errors.js'

export interface GlobalOptions {
  profile?: string
  databaseUrl?: string
  json: boolean
  verbose: boolean
  color: boolean
}

/**
 * What a command runs with. Each heavy member is built, and its code imported, on
 * first use: `lora config show` never loads a database driver.
 */
export interface Context {
  io: IO
  clock: Clock
  env: Record<string, string | undefined>
  cwd: string
  globals: GlobalOptions
  /** Aborted on Ctrl-C / SIGTERM: long work stops at the next safe point. */
  signal: AbortSignal
  /** Questions at the terminal; ask only when io.canPrompt (src/io/confirm.ts gates confirmations). */
  readonly prompter: Prompter
  loadConfig(): Promise<LoadedConfig>
  config(): Promise<ResolvedConfig>
  /** The database, with its schema checked to be current. */
  db(): Promise<Db>
  /** The database without the schema check: for `db migrate` and `db status`. */
  rawDb(): Promise<Db>
  /** The GPU clusters of the profile, each with its client and shared breaker. */
  clusters(): Promise<import('./cluster/index.js').ClusterSet>
  /** The profile's object storage (Supabase Storage, or the embedded folder). */
  storage(): Promise<import('./storage/types.js').Storage>
  /** Releases everything opened: connections, the embedded lock. */
  close(): Promise<void>
}

export interface ContextOptions {
  io?: IO
  clock?: Clock
  env?: Record<string, string | undefined>
  cwd?: string
  homeDir?: string
  globals?: Partial<GlobalOptions>
  signal?: AbortSignal
  /** Tests hand in a prompter over their own streams; otherwise the terminal's. */
  prompter?: Prompter
  /** Hold the embedded database in this process and serve it (the demo's stack); commands are clients of the local service. */
  serveEmbedded?: boolean
  /** The command may create the embedded stack (`db migrate`, `local start`, `demo`); the others only use one. */
  createStack?: boolean
  /** Tests hand in a database directly. */
  db?: Db
  config?: ResolvedConfig
}

export function createContext(options: ContextOptions = {}): Context {
  const env = options.env ?? process.env
  const globals: GlobalOptions = { json: false, verbose: false, color: true, ...options.globals }
  const io =
    options.io ??
    new IO({ stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env, noColor: !globals.color })
  const clock = options.clock ?? systemClock
  const cwd = options.cwd ?? process.cwd()
  const closers: (() => Promise<void>)[] = []

  let loaded: Promise<LoadedConfig> | undefined
  const loadConfig = () => {
    loaded ??= (async () => {
      if (options.config) return { config: options.config, files: [], warnings: [] }
      const { loadConfig: load } = await import('./config/load.js')
      const result = await load({
        cwd,
        env,
        homeDir: options.homeDir ?? env.HOME ?? homedir(),
        flags: { ...(globals.profile ? { profile: globals.profile } : {}), ...(globals.databaseUrl ? { databaseUrl: globals.databaseUrl } : {}) },
      })
      for (const warning of result.warnings) io.warn(warning)
      return result
    })()
    return loaded
  }
  const config = async () => (await loadConfig()).config

  let rawDb: Promise<Db> | undefined
  const openRaw = () => {
    rawDb ??= (async () => {
      if (options.db) return options.db
      const cfg = await config()
      const { openDatabase } = await import('./db/open.js')
      // A local service started in the background resolves the same profile and database.
      const serviceArgs = [...(globals.profile ? ['--profile', globals.profile] : []), ...(globals.databaseUrl ? ['--database-url', globals.databaseUrl] : [])]
      const db = await openDatabase(cfg, { clock, env, cwd, serve: options.serveEmbedded ?? false, createStack: options.createStack ?? false, serviceArgs })
      closers.push(() => db.close())
      return db
    })()
    return rawDb
  }
  let checkedDb: Promise<Db> | undefined
  let clusters: Promise<import('./cluster/index.js').ClusterSet> | undefined
  let storage: Promise<import('./storage/types.js').Storage> | undefined

  const signal = options.signal ?? new AbortController().signal
  let prompter = options.prompter
  const context: Context = {
    io,
    clock,
    env,
    cwd,
    globals,
    signal,
    get prompter() {
      prompter ??= terminalPrompter(signal)
      return prompter
    },
    loadConfig,
    config,
    rawDb: openRaw,
    db() {
      checkedDb ??= (async () => {
        const db = await openRaw()
        const { assertSchemaCurrent } = await import('./db/migrate.js')
        await assertSchemaCurrent(db)
        return db
      })()
      return checkedDb
    },
    clusters() {
      clusters ??= (async () => {
        const { openClusters } = await import('./cluster/index.js')
        const set = await openClusters(context)
        closers.push(() => set.close())
        return set
      })()
      return clusters
    },
    storage() {
      storage ??= (async () => {
        const { openStorage } = await import('./storage/index.js')
        const opened = await openStorage(context)
        closers.push(() => opened.close())
        return opened
      })()
      return storage
    },
    async close() {
      for (const close of closers.reverse()) {
        try {
          await close()
        } catch {
          // Closing is best effort; the process is ending.
        }
      }
      closers.length = 0
    },
  }
  return context
}

export { LoraError, UsageError }
