import { inject } from 'vitest'
import { randomBytes } from 'node:crypto'
import type { Db } from '../../src/db/types.js'
import { openPostgres } from '../../src/db/postgres.js'
import { readFile } from 'node:fs/promises'
import { cpSync } from 'node:fs'
import { createRequire } from 'node:module'
import { dirname, join } from 'node:path'
import type { PgliteHandle } from '../../src/db/pglite.js'
import { PGLITE_DATA } from '../../src/db/embedded.js'

export const pgUrl = inject('pgUrl')

export interface TestDb extends Db {
  /** A second, independent connection pool to the same database (Postgres only). */
  connectAgain?: () => Promise<Db>
  /** The database's URL, for child processes (Postgres only). */
  url?: string
  /** Which database this is: the same for two opens that were handed the same one. */
  identity: string
}

export interface Backend {
  name: 'pglite' | 'postgres'
  available: boolean
  /**
   * A database with the current schema and the template's rows (an emptied one of an
   * earlier test, or one loaded now when fresh is true), or an empty one when
   * migrated is false.
   */
  open(options?: { migrated?: boolean; fresh?: boolean }): Promise<TestDb>
}

const pgliteTemplate = inject('pgliteTemplate')
const embeddedTemplate = inject('embeddedTemplate')

/**
 * Puts a migrated embedded database in `dbDir` (a workspace's `.lora/db`), copied
 * from the one the global setup migrated: end-to-end workspaces start from it rather
 * than creating a PGlite cluster (seconds) and migrating it each time
 * (e2e/cli.test.ts still creates and migrates one from scratch).
 */
export function copyMigratedEmbedded(dbDir: string): void {
  cpSync(embeddedTemplate, join(dbDir, PGLITE_DATA), { recursive: true })
}
const pgliteEmpty = inject('pgliteEmpty')
const dumps = new Map<string, Promise<Blob>>()

/**
 * PGlite's compiled WebAssembly and file bundle, made once per test worker (a process
 * that runs one test file after another: the suite does not isolate files) and shared
 * by its databases.
 */
let pgliteParts: Promise<{ pgliteWasmModule: WebAssembly.Module; fsBundle: Blob }> | undefined
function loadPgliteParts() {
  pgliteParts ??= (async () => {
    const dist = dirname(createRequire(import.meta.url).resolve('@electric-sql/pglite'))
    const [wasm, data] = await Promise.all([readFile(join(dist, 'pglite.wasm')), readFile(join(dist, 'pglite.data'))])
    const { WebAssembly: wasmApi } = globalThis as unknown as { WebAssembly: { compile(bytes: Uint8Array): Promise<WebAssembly.Module> } }
    return { pgliteWasmModule: await wasmApi.compile(wasm), fsBundle: new Blob([data]) }
  })()
  return pgliteParts
}

/**
 * A PGlite database loaded from the global setup's dumps (migrated, or empty):
 * creating a cluster and migrating it takes seconds per file, loading a copy does not.
 */
async function createPglite(migrated: boolean): Promise<PgliteHandle> {
  const file = migrated ? pgliteTemplate : pgliteEmpty
  if (!dumps.has(file)) dumps.set(file, readFile(file).then((bytes) => new Blob([bytes])))
  const { PGlite } = await import('@electric-sql/pglite')
  const [dump, parts] = await Promise.all([dumps.get(file)!, loadPgliteParts()])
  const { OID, parseDate, parseInt8, parseNumeric } = await import('../../src/db/values.js')
  const { Mutex } = await import('../../src/db/mutex.js')
  const pg = await PGlite.create({
    loadDataDir: dump,
    ...parts,
    parsers: { [OID.numeric]: parseNumeric, [OID.int8]: parseInt8, [OID.date]: parseDate },
  })
  const { wrapPglite } = await import('../../src/db/pglite.js')
  return wrapPglite(pg, new Mutex())
}

/**
 * Loading a PGlite database costs about half a second of CPU; emptying one costs a
 * few milliseconds. So a closed migrated database goes back to this worker's pool,
 * reset to exactly the migrated template: session state discarded, every table
 * truncated and its migration rows put back, sequences as they were. A database
 * whose schema a test changed (the fingerprint of its catalog differs), or whose
 * reset fails, is closed for good instead.
 */
interface Template {
  tables: { name: string; rows: string | null }[]
  sequences: { name: string; last: string; called: boolean }[]
  fingerprint: string
}
const idle: PgliteHandle[] = []
const pgliteIdentities = new WeakMap<PgliteHandle, string>()
let template: Promise<Template> | undefined
/** How many migrated databases this worker loaded or created, per backend (the rest of its opens reused one). */
export const databaseLoads = { pglite: 0, postgres: 0 }

const FINGERPRINT = `
  SELECT md5(string_agg(x, ';' ORDER BY x)) AS f FROM (
    SELECT 'c:' || c.oid::regclass::text || ':' || c.relkind::text || ':' || c.relrowsecurity || ':' || coalesce(c.relacl::text, '') AS x FROM pg_class c
      WHERE c.relnamespace::regnamespace::text NOT IN ('pg_catalog', 'information_schema') AND c.relnamespace::regnamespace::text NOT LIKE 'pg_t%'
    UNION ALL SELECT 'a:' || a.attrelid::regclass::text || '.' || a.attname || ':' || a.atttypid || ':' || a.attnotnull || ':' || a.attisdropped FROM pg_attribute a
      JOIN pg_class c ON c.oid = a.attrelid WHERE a.attnum > 0 AND c.relnamespace::regnamespace::text NOT IN ('pg_catalog', 'information_schema') AND c.relnamespace::regnamespace::text NOT LIKE 'pg_t%'
    UNION ALL SELECT 'p:' || p.oid::regprocedure::text || ':' || md5(coalesce(p.prosrc, '')) FROM pg_proc p
      WHERE p.pronamespace::regnamespace::text NOT IN ('pg_catalog', 'information_schema')
    UNION ALL SELECT 't:' || t.tgrelid::regclass::text || '.' || t.tgname || ':' || t.tgenabled::text FROM pg_trigger t WHERE NOT t.tgisinternal
    UNION ALL SELECT 'k:' || k.conrelid::regclass::text || '.' || k.conname || ':' || pg_get_constraintdef(k.oid) FROM pg_constraint k
      WHERE k.connamespace::regnamespace::text NOT IN ('pg_catalog', 'information_schema')
    UNION ALL SELECT 'n:' || nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg_t%'
    UNION ALL SELECT 'o:' || o.polrelid::regclass::text || '.' || o.polname FROM pg_policy o
    UNION ALL SELECT 'e:' || extname FROM pg_extension
  ) parts`

/** A query on one session: the PGlite instance itself, or one Postgres connection. */
type Run = <T>(sql: string, params?: unknown[]) => Promise<T[]>

async function readTemplate(run: Run): Promise<Template> {
  const tables = await run<{ name: string }>(
    `SELECT format('%I.%I', table_schema, table_name) AS name FROM information_schema.tables
      WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`,
  )
  const withRows: Template['tables'] = []
  for (const { name } of tables) {
    const [row] = await run<{ rows: string | null }>(`SELECT json_agg(t)::text AS rows FROM ${name} t`)
    withRows.push({ name, rows: row?.rows ?? null })
  }
  const sequences: Template['sequences'] = []
  for (const { name } of await run<{ name: string }>(`SELECT format('%I.%I', schemaname, sequencename) AS name FROM pg_sequences`)) {
    const [row] = await run<{ last: string; called: boolean }>(`SELECT last_value::text AS last, is_called AS called FROM ${name}`)
    sequences.push({ name, last: row!.last, called: row!.called })
  }
  const [print] = await run<{ f: string }>(FINGERPRINT)
  return { tables: withRows, sequences, fingerprint: print!.f }
}

/** Empties a database back to the template; false if its schema is not the template's any more. */
async function resetToTemplate(run: Run, t: Template): Promise<boolean> {
  const [print] = await run<{ f: string }>(FINGERPRINT)
  if (print?.f !== t.fingerprint) return false
  // Triggers off while emptying and refilling: the rollups are reset like any table.
  await run('SET session_replication_role = replica')
  await run(`TRUNCATE ${t.tables.map((x) => x.name).join(', ')} RESTART IDENTITY CASCADE`)
  for (const table of t.tables) {
    if (table.rows) await run(`INSERT INTO ${table.name} OVERRIDING SYSTEM VALUE SELECT * FROM json_populate_recordset(NULL::${table.name}, $1::text::json)`, [table.rows])
  }
  for (const seq of t.sequences) await run(`SELECT setval('${seq.name}', $1::bigint, $2)`, [seq.last, seq.called])
  await run('SET session_replication_role = DEFAULT')
  return true
}

const pgliteRun = (pg: PgliteHandle['pg']): Run => async <T>(sql: string, params?: unknown[]) => (await pg.query<T>(sql, params)).rows

async function openPgliteBackend(migrated: boolean, fresh: boolean): Promise<TestDb> {
  if (!migrated) return { ...(await createPglite(false)).db, identity: 'an empty pglite' }
  let handle = fresh ? undefined : idle.pop()
  if (!handle) {
    databaseLoads.pglite += 1
    handle = await createPglite(true)
    pgliteIdentities.set(handle, `pglite #${databaseLoads.pglite} of process ${process.pid}`)
    template ??= readTemplate(pgliteRun(handle.pg))
    await template
  }
  const held = handle
  // Each open gets its own Db: once closed, it refuses every use, so a test that
  // kept it cannot touch the next test's database.
  let closed = false
  const unlistens = new Set<() => Promise<void>>()
  const use = () => {
    if (closed) throw new Error('this test database is closed')
    return held.db
  }
  return {
    kind: 'pglite',
    identity: pgliteIdentities.get(held)!,
    query: (sql, params) => Promise.resolve().then(() => use().query(sql, params)),
    transaction: (fn) => Promise.resolve().then(() => use().transaction(fn)),
    exec: (sql) => Promise.resolve().then(() => use().exec(sql)),
    notify: (channel, payload) => Promise.resolve().then(() => use().notify(channel, payload)),
    async listen(channel, onMessage) {
      const unlisten = await use().listen(channel, onMessage)
      if (!unlisten) return null
      const once = async () => {
        if (!unlistens.delete(once)) return
        await unlisten()
      }
      unlistens.add(once)
      return once
    },
    async close() {
      if (closed) return
      for (const unlisten of [...unlistens]) await unlisten()
      closed = true
      const t = await template!
      const reusable = await held.session
        .run(async () => {
          await held.pg.exec('DISCARD ALL')
          return resetToTemplate(pgliteRun(held.pg), t)
        })
        .catch(() => false)
      if (reusable) idle.push(held)
      else await held.db.close()
    },
  }
}

/**
 * The same for Postgres: a closed migrated database is emptied back to the template
 * over a new connection (every session of the test gone with its pools) and kept
 * for the worker's next test, instead of dropped and created again. One that another
 * session still uses (a child process that outlived its test) is dropped.
 */
const idleDatabases: string[] = []
let pgTemplate: Promise<Template> | undefined

const databaseUrl = (name: string) => pgUrl.replace(/\/postgres$/, `/${name}`)
const postgresRun = (db: Db): Run => (sql, params) => db.query(sql, params) as never

async function dropDatabase(name: string): Promise<void> {
  const dropper = await openPostgres({ url: pgUrl, max: 1 })
  await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
  await dropper.close()
}

async function resetPostgres(name: string): Promise<boolean> {
  const conn = await openPostgres({ url: databaseUrl(name), max: 1 })
  try {
    // The test's own pools have just closed: their sessions take a moment to end.
    for (let i = 0; ; i++) {
      const [others] = await conn.query<{ n: number }>(
        'SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()',
      )
      if (others!.n === 0) break
      if (i === 25) return false
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
    return await resetToTemplate(postgresRun(conn), await pgTemplate!)
  } finally {
    await conn.close()
  }
}

async function openPostgresBackend(migrated: boolean, fresh: boolean): Promise<TestDb> {
  let name = migrated && !fresh ? idleDatabases.pop() : undefined
  if (!name) {
    name = `t_${randomBytes(6).toString('hex')}`
    if (migrated) databaseLoads.postgres += 1
    const admin = await openPostgres({ url: pgUrl, max: 1 })
    await admin.query(`CREATE DATABASE ${name}${migrated ? ' TEMPLATE lora_template' : ''}`)
    await admin.close()
    if (migrated && !pgTemplate) {
      const probe = await openPostgres({ url: databaseUrl(name), max: 1 })
      pgTemplate = readTemplate(postgresRun(probe)).finally(() => probe.close())
      await pgTemplate
    }
  }
  const own = name
  const url = databaseUrl(own)
  const db = await openPostgres({ url, max: 8 })
  const others: Db[] = []
  let closed = false
  return {
    ...db,
    url,
    identity: own,
    connectAgain: async () => {
      const other = await openPostgres({ url, max: 8 })
      others.push(other)
      return other
    },
    close: async () => {
      if (closed) return
      closed = true
      for (const o of others) await o.close()
      await db.close()
      if (migrated && (await resetPostgres(own).catch(() => false))) idleDatabases.push(own)
      else await dropDatabase(own)
    },
  }
}

export const backends: Backend[] = [
  { name: 'pglite', available: true, open: (o) => openPgliteBackend(o?.migrated ?? true, o?.fresh ?? false) },
  { name: 'postgres', available: Boolean(pgUrl), open: (o) => openPostgresBackend(o?.migrated ?? true, o?.fresh ?? false) },
]
