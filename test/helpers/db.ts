import { inject } from 'vitest'
import { randomBytes } from 'node:crypto'
import type { Db } from '../../src/db/types.js'
import { openPostgres } from '../../src/db/postgres.js'
import { readFile } from 'node:fs/promises'
import { cpSync } from 'node:fs'
import { join } from 'node:path'
import { PGLITE_DATA } from '../../src/db/embedded.js'

export const pgUrl = inject('pgUrl')

export interface TestDb extends Db {
  /** A second, independent connection pool to the same database (Postgres only). */
  connectAgain?: () => Promise<Db>
  /** The database's URL, for child processes (Postgres only). */
  url?: string
}

export interface Backend {
  name: 'pglite' | 'postgres'
  available: boolean
  /** A fresh database with the current schema, or an empty one when migrated is false. */
  open(options?: { migrated?: boolean }): Promise<TestDb>
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
 * A PGlite database loaded from the global setup's dumps (migrated, or empty):
 * creating a cluster and migrating it takes seconds per file, loading a copy does not.
 */
async function openPgliteBackend(migrated: boolean): Promise<TestDb> {
  const file = migrated ? pgliteTemplate : pgliteEmpty
  if (!dumps.has(file)) dumps.set(file, readFile(file).then((bytes) => new Blob([bytes])))
  const { PGlite } = await import('@electric-sql/pglite')
  const dump = await dumps.get(file)!
  const { OID, parseDate, parseInt8, parseNumeric } = await import('../../src/db/values.js')
  const { Mutex } = await import('../../src/db/mutex.js')
  const pg = await PGlite.create({
    loadDataDir: dump,
    parsers: { [OID.numeric]: parseNumeric, [OID.int8]: parseInt8, [OID.date]: parseDate },
  })
  const { wrapPglite } = await import('../../src/db/pglite.js')
  return wrapPglite(pg, new Mutex()).db
}

async function openPostgresBackend(migrated: boolean): Promise<TestDb> {
  const name = `t_${randomBytes(6).toString('hex')}`
  const admin = await openPostgres({ url: pgUrl, max: 1 })
  await admin.query(`CREATE DATABASE ${name}${migrated ? ' TEMPLATE lora_template' : ''}`)
  await admin.close()
  const url = pgUrl.replace(/\/postgres$/, `/${name}`)
  const db = await openPostgres({ url, max: 8 })
  const others: Db[] = []
  return {
    ...db,
    url,
    connectAgain: async () => {
      const other = await openPostgres({ url, max: 8 })
      others.push(other)
      return other
    },
    close: async () => {
      for (const o of others) await o.close()
      await db.close()
      const dropper = await openPostgres({ url: pgUrl, max: 1 })
      await dropper.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
      await dropper.close()
    },
  }
}

export const backends: Backend[] = [
  { name: 'pglite', available: true, open: (o) => openPgliteBackend(o?.migrated ?? true) },
  { name: 'postgres', available: Boolean(pgUrl), open: (o) => openPostgresBackend(o?.migrated ?? true) },
]
