import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { execFileSync } from 'node:child_process'
import { chmodSync, chownSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { findPgBin, startPgServer, type PgServer } from '../helpers/pg-server.js'
import { testConfig } from '../helpers/context.js'
import { openDatabase } from '../../src/db/open.js'
import { databaseTls } from '../../src/db/tls.js'
import { systemClock } from '../../src/clock.js'
import type { LoraError } from '../../src/errors.js'

describe('the TLS mode of a database URL', () => {
  it('encrypts a host other than this machine by default, as sslmode=require', () => {
    expect(databaseTls('postgres://postgres:pw@db.abcdefgh.supabase.co:5432/postgres')).toMatchObject({ mode: 'require', implicit: true, ssl: 'require' })
    expect(databaseTls('postgres://postgres@10.0.0.5/postgres')).toMatchObject({ mode: 'require', ssl: 'require' })
  })

  it('leaves this machine in plaintext unless told, and a remote host only with an explicit sslmode=disable', () => {
    expect(databaseTls('postgres://postgres@127.0.0.1:5432/postgres')).toMatchObject({ mode: 'disable', ssl: false })
    expect(databaseTls('postgres://postgres@localhost/postgres')).toMatchObject({ mode: 'disable', ssl: false })
    expect(databaseTls('postgres://postgres@db.example.com/postgres?sslmode=disable')).toMatchObject({ mode: 'disable', implicit: false, ssl: false })
  })

  it('takes the TLS parameters out of the URL, which the driver would send to the server as settings', () => {
    const tls = databaseTls('postgres://postgres:pw@db.example.com/postgres?sslmode=require&application_name=x')
    expect(tls.url).toBe('postgres://postgres:pw@db.example.com/postgres?application_name=x')
  })

  it('refuses an unknown sslmode and an unreadable CA file with one sentence, exit 2', () => {
    const bad = (() => { try { databaseTls('postgres://h/db?sslmode=strict') } catch (e) { return e as LoraError } })()!
    expect(bad.message).toBe('database.url has sslmode=strict: expected one of disable, allow, prefer, require, verify-ca, verify-full.')
    expect(bad.exitCode).toBe(2)
    const ca = (() => { try { databaseTls('postgres://h/db?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem') } catch (e) { return e as LoraError } })()!
    expect(ca.message).toBe('Could not read the database CA certificate /nonexistent/ca.pem (sslrootcert or LORA_DATABASE_CA): ENOENT.')
    expect(ca.exitCode).toBe(2)
  })
})

/**
 * A throwaway Postgres that accepts TLS connections only (ssl=on, hostssl in its
 * pg_hba), with a certificate signed by a CA made for the test.
 */
describe.skipIf(!findPgBin())('a database server that requires TLS (self-signed CA made by the test)', () => {
  let server: PgServer | null = null
  let dir = ''
  let caFile = ''

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'lora-tls-'))
    chmodSync(dir, 0o755)
    const ssl = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' })
    ssl('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '2', '-subj', '/CN=lora test CA', '-keyout', 'ca.key', '-out', 'ca.pem')
    ssl('req', '-newkey', 'rsa:2048', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', 'server.key', '-out', 'server.csr')
    writeFileSync(join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1\n')
    ssl('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '2', '-extfile', 'san.ext', '-out', 'server.pem')
    writeFileSync(join(dir, 'pg_hba.conf'), 'local all all trust\nhostssl all all 127.0.0.1/32 trust\n')
    caFile = join(dir, 'ca.pem')
    // The server runs as the postgres user when the tests run as root: it must own its key.
    for (const f of ['server.key', 'server.pem', 'pg_hba.conf', 'ca.pem']) chmodSync(join(dir, f), f === 'server.key' ? 0o600 : 0o644)
    if (process.getuid?.() === 0) {
      const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim())
      chownSync(join(dir, 'server.key'), uid, -1)
    }
    server = await startPgServer({
      settings: ['-c ssl=on', `-c ssl_cert_file=${join(dir, 'server.pem')}`, `-c ssl_key_file=${join(dir, 'server.key')}`, `-c hba_file=${join(dir, 'pg_hba.conf')}`],
    })
  }, 120_000)
  afterAll(() => {
    server?.destroy()
    if (dir) rmSync(dir, { recursive: true, force: true })
  })

  async function connect(url: string, env: Record<string, string> = {}) {
    const config = testConfig({ embedded: false, database: { url, embedded: false, pooler: false } })
    return openDatabase(config, { clock: systemClock, serve: false, env })
  }
  const base = () => server!.url

  it('refuses plaintext (the server has no plain entry in pg_hba)', async () => {
    await expect(connect(`${base()}?sslmode=disable`)).rejects.toThrow(/^Could not reach the database at 127\.0\.0\.1:\d+: not authorized\.$/)
  })

  it('connects encrypted with sslmode=require', async () => {
    const db = await connect(`${base()}?sslmode=require`)
    try {
      const [row] = await db.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')
      expect(row!.ssl).toBe(true)
    } finally {
      await db.close()
    }
  })

  it('refuses sslmode=verify-full without the CA: the certificate is not trusted', async () => {
    await expect(connect(`${base()}?sslmode=verify-full`)).rejects.toThrow(
      /^Could not reach the database at 127\.0\.0\.1:\d+: the server's certificate is not trusted.*\.$/,
    )
  })

  it('connects with sslmode=verify-full and the CA, from sslrootcert or LORA_DATABASE_CA', async () => {
    for (const [url, env] of [
      [`${base()}?sslmode=verify-full&sslrootcert=${encodeURIComponent(caFile)}`, {}],
      [`${base()}?sslmode=verify-full`, { LORA_DATABASE_CA: caFile }],
    ] as const) {
      const db = await connect(url, env)
      try {
        const [row] = await db.query<{ ssl: boolean }>('SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()')
        expect(row!.ssl).toBe(true)
      } finally {
        await db.close()
      }
    }
  })
})
