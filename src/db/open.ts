import type { Db } from './types.js'
import type { ResolvedConfig } from '../config/schema.js'
import type { Clock } from '../clock.js'
import { LoraError, UsageError } from '../errors.js'
import { redact } from '../redact.js'
import { parseDuration } from '../config/duration.js'

/** Opens the profile's database, turning driver failures into one clear sentence. */
export interface OpenOptions {
  clock: Clock
  /** Hold the embedded database in this process and serve it (the demo's stack); otherwise be a client of the local service. */
  serve: boolean
  env?: Record<string, string | undefined>
  cwd?: string
  /** Whether this command may create the embedded stack. */
  createStack?: boolean
  /** Global flags for a local service started in the background. */
  serviceArgs?: string[]
}

export async function openDatabase(config: ResolvedConfig, options: OpenOptions): Promise<Db> {
  const database = config.database
  if (!database) {
    throw new UsageError(`Profile ${config.profile} has no database: set DATABASE_URL.`, { code: 'no_database' })
  }
  if (database.embedded) {
    const wait = options.env?.LORA_EMBEDDED_WAIT ? parseDuration(options.env.LORA_EMBEDDED_WAIT) : null
    if (options.serve) {
      const { openEmbedded } = await import('./embedded.js')
      return openEmbedded({ dir: database.dir!, serve: true, clock: options.clock, ...(wait !== null ? { waitMs: wait } : {}) })
    }
    const { openServiceClient } = await import('../local-client.js')
    return openServiceClient(config, {
      clock: options.clock,
      env: options.env ?? process.env,
      cwd: options.cwd ?? process.cwd(),
      create: options.createStack ?? false,
      serviceArgs: options.serviceArgs ?? [],
      waitMs: wait ?? 30_000,
    })
  }
  const { openPostgres } = await import('./postgres.js')
  const { databaseTls } = await import('./tls.js')
  const tls = databaseTls(database.url, options.env)
  const db = await openPostgres({ url: tls.url, pooler: database.pooler, ssl: tls.ssl })
  try {
    await db.query('SELECT 1')
  } catch (error) {
    await db.close().catch(() => {})
    throw describeConnectionError(database.url, error)
  }
  return db
}

export function describeConnectionError(url: string, error: unknown): LoraError {
  const e = error as NodeJS.ErrnoException & { code?: string }
  let where = 'the database'
  try {
    const u = new URL(url)
    where = `the database at ${u.hostname}:${u.port || 5432}`
  } catch {
    // Keep the generic name.
  }
  const reasons: Record<string, string> = {
    DEPTH_ZERO_SELF_SIGNED_CERT: "the server's certificate is not trusted (self-signed); give its CA with sslrootcert or LORA_DATABASE_CA",
    SELF_SIGNED_CERT_IN_CHAIN: "the server's certificate is not trusted; give its CA with sslrootcert or LORA_DATABASE_CA",
    UNABLE_TO_VERIFY_LEAF_SIGNATURE: "the server's certificate is not trusted; give its CA with sslrootcert or LORA_DATABASE_CA",
    UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "the server's certificate is not trusted; give its CA with sslrootcert or LORA_DATABASE_CA",
    ERR_TLS_CERT_ALTNAME_INVALID: "the server's certificate is for another host name",
    CERT_HAS_EXPIRED: "the server's certificate has expired",
    ECONNREFUSED: 'connection refused',
    ENOTFOUND: 'host not found',
    ETIMEDOUT: 'timed out',
    CONNECT_TIMEOUT: 'timed out',
    ECONNRESET: 'connection reset',
    EHOSTUNREACH: 'host unreachable',
    '28P01': 'password authentication failed',
    '28000': 'not authorized',
    '3D000': 'database does not exist',
  }
  const reason = (e.code && reasons[e.code]) ?? redact(e.message ?? String(error))
  return new LoraError(`Could not reach ${where}: ${reason}.`, {
    code: 'db_unreachable',
    cause: error,
    hint: 'Check DATABASE_URL (or database.url in .lorarc) and that the server is running.',
  })
}
