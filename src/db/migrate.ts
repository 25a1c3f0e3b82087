import { createHash } from 'node:crypto'
import type { Db, Queryable } from './types.js'
import { REQUIRED_SCHEMA } from './schema.js'
import { LoraError } from '../errors.js'
import platform from './migrations/0001_platform.sql'
import operations from './migrations/0002_operations.sql'
import observability from './migrations/0003_observability.sql'
import costs from './migrations/0004_costs.sql'
import liveness from './migrations/0005_liveness.sql'
import userRollups from './migrations/0006_user_rollups.sql'
import dailyRollups from './migrations/0007_daily_rollups.sql'
import costCover from './migrations/0008_cost_cover.sql'

export interface Migration {
  version: number
  name: string
  sql: string
  checksum: string
}

function migration(version: number, name: string, sql: string): Migration {
  return { version, name, sql, checksum: createHash('sha256').update(sql).digest('hex').slice(0, 16) }
}

/** The bundled migrations, in order. A new one is appended, never edited. */
export const MIGRATIONS: readonly Migration[] = [
  migration(1, 'platform', platform),
  migration(2, 'operations', operations),
  migration(3, 'observability', observability),
  migration(4, 'costs', costs),
  migration(5, 'liveness', liveness),
  migration(6, 'user_rollups', userRollups),
  migration(7, 'daily_rollups', dailyRollups),
  migration(8, 'cost_cover', costCover),
]

export const LATEST_VERSION = MIGRATIONS[MIGRATIONS.length - 1]!.version

/** The advisory lock that serialises concurrent `lora db migrate` runs. */
const MIGRATE_LOCK_KEY = 0x10a4_0001

const CREATE_LEDGER = `
CREATE SCHEMA IF NOT EXISTS lora_ops;
CREATE TABLE IF NOT EXISTS lora_ops.schema_migrations (
  version    integer PRIMARY KEY,
  name       text NOT NULL,
  checksum   text NOT NULL,
  applied_at timestamptz NOT NULL DEFAULT now()
);`

export interface AppliedMigration {
  version: number
  name: string
  checksum: string
  appliedAt: Date
}

/** The migrations the ledger records, oldest first; null when there is no ledger (a database never migrated). */
export async function readApplied(q: Queryable): Promise<AppliedMigration[] | null> {
  const [ledger] = await q.query<{ present: boolean }>(
    `SELECT to_regclass('lora_ops.schema_migrations') IS NOT NULL AS present`,
  )
  if (!ledger?.present) return null
  const rows = await q.query<{ version: number; name: string; checksum: string; applied_at: Date }>(
    'SELECT version, name, checksum, applied_at FROM lora_ops.schema_migrations ORDER BY version',
  )
  return rows.map((r) => ({ version: r.version, name: r.name, checksum: r.checksum, appliedAt: r.applied_at }))
}

export interface MigrateResult {
  applied: Migration[]
  alreadyCurrent: boolean
}

/**
 * Applies the pending migrations in one transaction under an advisory lock:
 * two `lora db migrate` at once apply each migration once, and a failure leaves
 * the database as it was.
 */
export async function migrate(db: Db): Promise<MigrateResult> {
  return db.transaction(async (tx) => {
    await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATE_LOCK_KEY])
    for (const statement of CREATE_LEDGER.split(';').map((s) => s.trim()).filter(Boolean)) {
      await tx.query(statement)
    }
    const applied = new Set((await readApplied(tx))?.map((m) => m.version))
    const pending = MIGRATIONS.filter((m) => !applied.has(m.version))
    for (const m of pending) {
      try {
        await runScript(tx, m.sql)
      } catch (cause) {
        throw new LoraError(`Migration ${m.version} (${m.name}) failed: ${(cause as Error).message}.`, {
          code: 'migration_failed',
          cause,
          hint: 'Nothing was applied; fix the cause and run `lora db migrate` again.',
        })
      }
      await tx.query('INSERT INTO lora_ops.schema_migrations (version, name, checksum) VALUES ($1, $2, $3)', [
        m.version,
        m.name,
        m.checksum,
      ])
    }
    return { applied: pending, alreadyCurrent: pending.length === 0 }
  })
}

/**
 * Runs a migration script statement by statement inside the caller's transaction.
 * Statements are split on semicolons at the end of a line, outside dollar quotes.
 */
async function runScript(tx: Queryable, sql: string): Promise<void> {
  for (const statement of splitStatements(sql)) await tx.query(statement)
}

export function splitStatements(sql: string): string[] {
  const statements: string[] = []
  let current = ''
  let inDollar = false
  for (const line of sql.split('\n')) {
    // The migrations keep no "--" inside string literals, so a comment runs to the line end.
    const stripped = line.replace(/--.*$/, '').trimEnd()
    if (stripped.trim() === '' && !inDollar) continue
    current += stripped + '\n'
    const dollars = stripped.match(/\$\$/g)?.length ?? 0
    if (dollars % 2 === 1) inDollar = !inDollar
    if (!inDollar && /;$/.test(stripped)) {
      statements.push(current.trim().replace(/;$/, ''))
      current = ''
    }
  }
  if (current.trim()) statements.push(current.trim())
  return statements
}

export interface Drift {
  table: string
  column?: string
  problem: 'missing_table' | 'missing_column' | 'wrong_type'
  expected?: string
  actual?: string
}

export interface SchemaStatus {
  applied: AppliedMigration[]
  pending: Migration[]
  /** Applied migrations whose bundled text has changed since. */
  changed: { version: number; name: string }[]
  /** Versions in the database that this build does not know (a newer lora migrated it). */
  unknown: number[]
  drift: Drift[]
  current: boolean
}

export async function schemaStatus(q: Queryable): Promise<SchemaStatus> {
  const applied = (await readApplied(q)) ?? []
  const appliedVersions = new Map(applied.map((m) => [m.version, m]))
  const known = new Set(MIGRATIONS.map((m) => m.version))
  const pending = MIGRATIONS.filter((m) => !appliedVersions.has(m.version))
  const changed = MIGRATIONS.filter((m) => {
    const a = appliedVersions.get(m.version)
    return a !== undefined && a.checksum !== m.checksum
  }).map((m) => ({ version: m.version, name: m.name }))
  const unknown = applied.filter((m) => !known.has(m.version)).map((m) => m.version)
  const drift = await findDrift(q)
  return { applied, pending, changed, unknown, drift, current: pending.length === 0 && drift.length === 0 }
}

async function findDrift(q: Queryable): Promise<Drift[]> {
  const rows = await q.query<{ table_schema: string; table_name: string; column_name: string; udt_name: string }>(
    `SELECT table_schema, table_name, column_name, udt_name
       FROM information_schema.columns
      WHERE table_schema IN ('public', 'lora_ops')`,
  )
  const live = new Map<string, Map<string, string>>()
  for (const r of rows) {
    const key = `${r.table_schema}.${r.table_name}`
    if (!live.has(key)) live.set(key, new Map())
    live.get(key)!.set(r.column_name, r.udt_name)
  }
  const drift: Drift[] = []
  for (const [table, columns] of Object.entries(REQUIRED_SCHEMA)) {
    const liveColumns = live.get(table)
    if (!liveColumns) {
      drift.push({ table, problem: 'missing_table' })
      continue
    }
    for (const [column, expected] of Object.entries(columns)) {
      const actual = liveColumns.get(column)
      const allowed = typeof expected === 'string' ? [expected] : expected
      if (actual === undefined) drift.push({ table, column, problem: 'missing_column', expected: allowed.join(' or ') })
      else if (!allowed.includes(actual)) drift.push({ table, column, problem: 'wrong_type', expected: allowed.join(' or '), actual })
    }
  }
  return drift
}

/**
 * The gate every command but `db migrate` and `db status` passes: a schema that
 * is behind gets one sentence saying to run `lora db migrate`. Cheap: one query.
 */
export async function assertSchemaCurrent(q: Queryable): Promise<void> {
  let version: number | null = null
  try {
    // One round trip in the usual case (every command pays it): the ledger read
    // directly, its absence told by the error.
    const [row] = await q.query<{ version: number }>('SELECT coalesce(max(version), 0)::int AS version FROM lora_ops.schema_migrations')
    version = row?.version ?? 0
  } catch (cause) {
    const code = (cause as { code?: string }).code
    // undefined_table, invalid_schema_name: a database lora never migrated.
    if (code !== '42P01' && code !== '3F000') {
      throw new LoraError(`Could not read the schema version: ${(cause as Error).message}.`, { cause, code: 'db_error' })
    }
  }
  if (version === null || version < LATEST_VERSION) {
    throw new LoraError(
      version === null
        ? 'The database has no lora schema yet.'
        : `The database schema is behind (version ${version}, this lora needs ${LATEST_VERSION}).`,
      { code: 'schema_behind', exitCode: 2, hint: 'Run `lora db migrate`.' },
    )
  }
}
