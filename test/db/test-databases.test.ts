import { describe, expect, it } from 'vitest'
import { randomUUID } from 'node:crypto'
import type { Db } from '../../src/db/types.js'
import { backends, databaseLoads } from '../helpers/db.js'
import { insertReadyDataset } from '../helpers/stack.js'

// The tests a worker runs (one file after another) share a few databases, each
// emptied back to the migrated template when a test closes it: if the reset missed
// anything, tests would see each other's rows. This checks the reset against a
// database loaded fresh.

/** Every row of every table, the sequences and the tables, as one comparable value. */
async function contents(db: Db) {
  const tables = await db.query<{ name: string }>(
    `SELECT format('%I.%I', table_schema, table_name) AS name FROM information_schema.tables
      WHERE table_type = 'BASE TABLE' AND table_schema NOT IN ('pg_catalog', 'information_schema') ORDER BY 1`,
  )
  const out: Record<string, unknown> = {}
  for (const { name } of tables) {
    const [row] = await db.query<{ rows: unknown }>(`SELECT coalesce(json_agg(t), '[]') AS rows FROM ${name} t`)
    out[name] = row!.rows
  }
  for (const { name } of await db.query<{ name: string }>(`SELECT format('%I.%I', schemaname, sequencename) AS name FROM pg_sequences ORDER BY 1`)) {
    out[`sequence ${name}`] = (await db.query(`SELECT last_value::text, is_called FROM ${name}`))[0]
  }
  return out
}

for (const backend of backends) {
describe.skipIf(!backend.available)(`test databases (${backend.name}, reused between tests)`, () => {
  it('hands back a closed database as the migrated template: rows, sequences and session state gone; a changed schema is not reused', async () => {
    const first = await backend.open({ fresh: true })
    const loadsBefore = databaseLoads[backend.name]
    const template = await contents(first)
    const [{ zone }] = (await first.query<{ zone: string }>(`SELECT current_setting('TimeZone') AS zone`)) as [{ zone: string }]
    const user = randomUUID()
    await insertReadyDataset(first, user)
    await first.query(`INSERT INTO lora_ops.audit_log (actor, action, target) VALUES ('test', 'write', 'x')`)
    await first.query(`UPDATE lora_ops.schema_migrations SET applied_at = applied_at - interval '1 day'`)
    // One session for the session state: PGlite has one, a Postgres pool several.
    await first.transaction(async (tx) => {
      await tx.query(`SET TIME ZONE 'Asia/Tokyo'`)
      await tx.query('CREATE TEMP TABLE scratch (id int)')
      await tx.query('SELECT pg_advisory_lock(42)')
    })
    let heard = 0
    await first.listen('job_updates', () => (heard += 1))
    expect(await contents(first)).not.toEqual(template)
    await first.close()
    await expect(first.query('SELECT 1')).rejects.toThrow(backend.name === 'pglite' ? 'this test database is closed' : 'CONNECTION_ENDED')

    const second = await backend.open()
    expect(second.identity).toBe(first.identity)
    expect(databaseLoads[backend.name]).toBe(loadsBefore)
    expect(await contents(second)).toEqual(template)
    expect(await second.query(`SELECT current_setting('TimeZone') AS zone, to_regclass('pg_temp.scratch') AS scratch, pg_try_advisory_lock(42) AS free`)).toEqual([
      { zone, scratch: null, free: true },
    ])
    await second.notify('job_updates', 'x')
    expect(heard).toBe(0)
    // A test that changes the schema gets its database thrown away, not reused.
    await second.exec('CREATE TABLE public.scratch_table (id int)')
    await second.close()

    const third = await backend.open()
    expect(third.identity).not.toBe(second.identity)
    expect(await contents(third)).toEqual(template)
    await third.close()
  })
})
}
