import type { Db, Queryable } from './types.js'
import { bindParams, OID, parseDate, parseInt8, parseNumeric } from './values.js'

export interface PostgresOptions {
  url?: string
  /** A Unix socket path (the embedded database served by another lora process). */
  socketPath?: string
  /** A transaction pooler: no prepared statements, no LISTEN. */
  pooler?: boolean
  max?: number
  connectTimeoutSeconds?: number
  kind?: Db['kind']
  /** TLS for the connection (see databaseTls); the URL's own sslmode when absent. */
  ssl?: import('./tls.js').DriverSsl
}

/** A Db over the `postgres` driver: server Postgres, Supabase, or an embedded socket. */
export async function openPostgres(options: PostgresOptions): Promise<Db> {
  const { default: postgres } = await import('postgres')
  const identity = (x: unknown) => x
  const config = {
    max: options.max ?? 4,
    // Named prepared statements are unsafe through a transaction pooler and through
    // the shared embedded socket, where they would collide between processes.
    prepare: !(options.pooler || options.socketPath),
    connect_timeout: options.connectTimeoutSeconds ?? 10,
    idle_timeout: 30,
    // The driver waits before reopening a connection that failed, 3^n / 100 s after n
    // failures in a row (up to 20 s), counted across the pool: a restart of the
    // database of a few seconds left every statement waiting up to 20 s after it was
    // back. Callers back off themselves (the daemon's cycles), so the driver retries
    // soon: at most a second after a failure.
    backoff: (retries: number) => Math.min(0.05 * 2 ** retries, 1),
    onnotice: () => {},
    connection: { application_name: 'lora' },
    types: {
      numeric: { to: OID.numeric, from: [OID.numeric], serialize: String, parse: parseNumeric },
      int8: { to: OID.int8, from: [OID.int8], serialize: String, parse: parseInt8 },
      date: { to: OID.date, from: [OID.date], serialize: identity, parse: parseDate },
    },
  }
  const sql = options.socketPath
    ? postgres({ ...config, path: options.socketPath, user: 'postgres', database: 'postgres', ssl: false })
    : postgres(options.url!, options.ssl === undefined ? config : { ...config, ssl: options.ssl })

  type Sql = typeof sql
  type Unsafe = Pick<Sql, 'unsafe'>
  const run = async <T extends object>(target: Unsafe, text: string, params?: readonly unknown[]): Promise<T[]> => {
    const rows = await target.unsafe(text, bindParams(params) as never[])
    return [...rows] as unknown as T[]
  }

  return {
    kind: options.kind ?? 'postgres',
    query: <T extends object>(text: string, params?: readonly unknown[]) => run<T>(sql, text, params),
    transaction: async <T>(fn: (tx: Queryable) => Promise<T>) =>
      (await sql.begin(async (tx) => fn({ query: <R extends object>(text: string, params?: readonly unknown[]) => run<R>(tx as unknown as Unsafe, text, params) }))) as T,
    exec: async (script) => {
      await sql.unsafe(script).simple()
    },
    async listen(channel, onMessage) {
      if (options.pooler) return null
      const { unlisten } = await sql.listen(channel, onMessage)
      return unlisten
    },
    notify: async (channel, payload) => {
      await sql.notify(channel, payload)
    },
    close: (options) => sql.end({ timeout: (options?.waitMs ?? 5_000) / 1000 }),
  }
}
