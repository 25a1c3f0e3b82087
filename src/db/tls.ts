import { readFileSync } from 'node:fs'
import { isIP } from 'node:net'
import { checkServerIdentity, type ConnectionOptions, type PeerCertificate } from 'node:tls'
import { UsageError } from '../errors.js'
import { isLoopbackHost } from '../loopback.js'

/** The libpq connection parameters about TLS: taken out of the URL, lora applies them. */
const TLS_PARAMS = ['sslmode', 'sslrootcert', 'sslcert', 'sslkey', 'sslcrl', 'sslpassword', 'sslnegotiation'] as const
const MODES = ['disable', 'allow', 'prefer', 'require', 'verify-ca', 'verify-full'] as const
export type SslMode = (typeof MODES)[number]

/** What the postgres driver takes: false, a mode it knows, or tls.connect options. */
export type DriverSsl = false | 'prefer' | 'require' | ConnectionOptions

export interface DatabaseTls {
  /** The URL without the TLS parameters (the driver would send them to the server as settings). */
  url: string
  mode: SslMode
  /** True when the mode was not written but chosen: TLS for any host but this machine. */
  implicit: boolean
  ssl: DriverSsl
}

/**
 * How to reach a database over TLS, as libpq decides it: `sslmode` from the URL, the
 * CA from `sslrootcert` or LORA_DATABASE_CA. Unlike libpq's `prefer`, a host other
 * than this machine gets `require` when the URL says nothing: Supabase is reached over
 * the internet, and plaintext there takes an explicit `sslmode=disable`.
 */
export function databaseTls(rawUrl: string, env: Record<string, string | undefined> = {}): DatabaseTls {
  let url: URL
  try {
    url = new URL(rawUrl)
  } catch {
    return { url: rawUrl, mode: 'disable', implicit: true, ssl: false }
  }
  const params = url.searchParams
  const written = params.get('sslmode')
  const rootcert = params.get('sslrootcert') ?? (env.LORA_DATABASE_CA || null)
  for (const p of TLS_PARAMS) params.delete(p)
  const host = decodeURIComponent(url.hostname) || (params.get('host') ?? '')
  const stripped = url.toString()
  if (written !== null && !(MODES as readonly string[]).includes(written)) {
    throw new UsageError(`database.url has sslmode=${written}: expected one of ${MODES.join(', ')}.`, { code: 'invalid_sslmode' })
  }
  let mode: SslMode = (written as SslMode | null) ?? (isLoopbackHost(host) ? 'disable' : 'require')
  // libpq: `require` with a root certificate verifies the chain, as verify-ca does.
  if (mode === 'require' && rootcert && rootcert !== 'system') mode = 'verify-ca'
  if (rootcert === 'system' && written === null) mode = 'verify-full'
  const implicit = written === null
  switch (mode) {
    case 'disable':
      return { url: stripped, mode, implicit, ssl: false }
    case 'allow':
    case 'prefer':
      return { url: stripped, mode, implicit, ssl: 'prefer' }
    case 'require':
      return { url: stripped, mode, implicit, ssl: 'require' }
    case 'verify-ca':
    case 'verify-full': {
      const ca = rootcert && rootcert !== 'system' ? readCa(rootcert) : undefined
      const options: ConnectionOptions = { rejectUnauthorized: true, ...(ca ? { ca } : {}) }
      if (!isIP(host)) options.servername = host
      // verify-ca trusts any name the CA signed; verify-full checks it is this host's.
      options.checkServerIdentity =
        mode === 'verify-full' ? (_name: string, cert: PeerCertificate) => checkServerIdentity(host, cert) : () => undefined
      return { url: stripped, mode, implicit, ssl: options }
    }
  }
}

function readCa(file: string): string {
  try {
    return readFileSync(file, 'utf8')
  } catch (error) {
    throw new UsageError(`Could not read the database CA certificate ${file} (sslrootcert or LORA_DATABASE_CA): ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}.`, {
      code: 'invalid_database_ca',
    })
  }
}
