import { afterEach, describe, expect, it } from 'vitest'
import { backends, type TestDb } from '../helpers/db.js'
import { assertSchemaCurrent, migrate, schemaStatus, splitStatements, LATEST_VERSION, MIGRATIONS } from '../../src/db/migrate.js'
import { LoraError } from '../../src/errors.js'
import { REQUIRED_SCHEMA } from '../../src/db/schema.js'

describe('splitStatements', () => {
  it('splits on semicolons at line ends but keeps dollar-quoted blocks whole', () => {
    const parts = splitStatements(`CREATE TABLE a (x int); -- one\nDO $$\nBEGIN\n  PERFORM 1;\nEND\n$$;\nSELECT 2;`)
    expect(parts).toEqual(['CREATE TABLE a (x int)', 'DO $$\nBEGIN\n  PERFORM 1;\nEND\n$$', 'SELECT 2'])
  })
})

for (const backend of backends) {
  describe.skipIf(!backend.available)(`migrations on ${backend.name}`, () => {
    let db: TestDb | undefined
    afterEach(async () => {
      await db?.close()
      db = undefined
    })

    it('applies every migration once, then nothing, and reports the schema current', async () => {
      db = await backend.open({ migrated: false })
      await expect(assertSchemaCurrent(db)).rejects.toMatchObject({ code: 'schema_behind', exitCode: 2 })
      const before = await schemaStatus(db)
      expect(before.pending.map((m) => m.version)).toEqual(MIGRATIONS.map((m) => m.version))
      expect(before.current).toBe(false)

      const first = await migrate(db)
      expect(first.applied.map((m) => m.version)).toEqual(MIGRATIONS.map((m) => m.version))
      const second = await migrate(db)
      expect(second.alreadyCurrent).toBe(true)
      expect(second.applied).toEqual([])

      const after = await schemaStatus(db)
      expect(after).toMatchObject({ current: true, pending: [], drift: [], changed: [], unknown: [] })
      expect(after.applied.map((m) => m.version)).toEqual(MIGRATIONS.map((m) => m.version))
      await assertSchemaCurrent(db)
    })

    it('reports a missing column, a column of another type and a missing table as drift', async () => {
      db = await backend.open()
      await db.exec(`ALTER TABLE training_jobs DROP COLUMN external_job_id;
        ALTER TABLE cost_records ALTER COLUMN amount TYPE text;
        DROP TABLE lora_ops.audit_log;`)
      const status = await schemaStatus(db)
      expect(status.current).toBe(false)
      expect(status.drift).toEqual(
        expect.arrayContaining([
          { table: 'public.training_jobs', column: 'external_job_id', problem: 'missing_column', expected: 'text' },
          { table: 'public.cost_records', column: 'amount', problem: 'wrong_type', expected: 'numeric', actual: 'text' },
          { table: 'lora_ops.audit_log', problem: 'missing_table' },
        ]),
      )
      expect(status.drift).toHaveLength(3)
    })

    it('accepts a month_reset_date kept as timestamptz, as older platform databases do', async () => {
      db = await backend.open()
      await db.exec(`ALTER TABLE user_training_limits ALTER COLUMN month_reset_date TYPE timestamptz`)
      expect((await schemaStatus(db)).drift).toEqual([])
    })

    it('says the schema is behind when a migration is missing from the ledger', async () => {
      db = await backend.open()
      await db.query('DELETE FROM lora_ops.schema_migrations WHERE version = $1', [LATEST_VERSION])
      const error = await assertSchemaCurrent(db).then(() => null, (e: unknown) => e)
      expect(error).toBeInstanceOf(LoraError)
      // Versions need not be contiguous (each branch adds its own number): the one before the latest.
      const previous = MIGRATIONS[MIGRATIONS.length - 2]!.version
      expect((error as LoraError).message).toBe(`The database schema is behind (version ${previous}, this lora needs ${LATEST_VERSION}).`)
      expect((error as LoraError).hint).toBe('Run `lora db migrate`.')
    })

    it('enforces exactly once in the schema: one cost record per job, type and month, one notification per job and event', async () => {
      db = await backend.open()
      const user = '00000000-0000-4000-8000-000000000001'
      const [dataset] = await db.query<{ id: string }>(
        `INSERT INTO datasets (user_id, name, format, storage_path) VALUES ($1, 'd', 'chat', 'p') RETURNING id`,
        [user],
      )
      const [job] = await db.query<{ id: string }>(
        `INSERT INTO training_jobs (user_id, dataset_id) VALUES ($1, $2) RETURNING id`,
        [user, dataset!.id],
      )
      const cost = `INSERT INTO cost_records (user_id, job_id, cost_type, amount, billing_period) VALUES ($1, $2, 'training_compute', 1.5, '2026-01-01')`
      await db.query(cost, [user, job!.id])
      await expect(db.query(cost, [user, job!.id])).rejects.toThrow(/cost_records_job_type_period_key/)
      // Another month of the same job is its own record: a job across the 1st is split.
      await db.query(cost.replace("'2026-01-01'", "'2026-02-01'"), [user, job!.id])
      const note = `INSERT INTO notifications (user_id, job_id, type, title, message) VALUES ($1, $2, 'job_completed', 't', 'm')`
      await db.query(note, [user, job!.id])
      await expect(db.query(note, [user, job!.id])).rejects.toThrow(/notifications_job_type_key/)
      const point = `INSERT INTO metrics_points (job_id, step, training_loss) VALUES ($1, 10, 0.5)`
      await db.query(point, [job!.id])
      await expect(db.query(point, [job!.id])).rejects.toThrow(/metrics_points_job_step_key/)
    })

    it('returns the same value types from both drivers', async () => {
      db = await backend.open()
      const [row] = await db.query<Record<string, unknown>>(
        `SELECT 12.50::numeric(12,2) AS amount, 9007199254740::bigint AS size, '2026-03-01'::date AS day,
                '2026-03-01T10:00:00Z'::timestamptz AS at, $1::jsonb AS doc, ARRAY['a','b']::text[] AS list,
                3::int AS n, true AS flag, NULL::text AS nothing`,
        [{ a: 1, nested: { b: [1, 2] } }],
      )
      expect(row).toEqual({
        amount: 12.5,
        size: 9007199254740,
        day: '2026-03-01',
        at: new Date('2026-03-01T10:00:00Z'),
        doc: { a: 1, nested: { b: [1, 2] } },
        list: ['a', 'b'],
        n: 3,
        flag: true,
        nothing: null,
      })
    })

    it('rolls a failed transaction back whole', async () => {
      db = await backend.open()
      const user = '00000000-0000-4000-8000-000000000002'
      await expect(
        db.transaction(async (tx) => {
          await tx.query(`INSERT INTO user_training_limits (user_id) VALUES ($1)`, [user])
          await tx.query(`INSERT INTO user_training_limits (user_id) VALUES ($1)`, [user])
        }),
      ).rejects.toMatchObject({
        code: '23505',
        message: expect.stringMatching(/^duplicate key value violates unique constraint "user_training_limits_pkey"/),
      })
      expect(await db.query(`SELECT * FROM user_training_limits WHERE user_id = $1`, [user])).toEqual([])
    })

    it('declares in REQUIRED_SCHEMA exactly the columns the migrations create', async () => {
      db = await backend.open()
      const rows = await db.query<{ t: string; c: string }>(
        `SELECT table_schema || '.' || table_name AS t, column_name AS c FROM information_schema.columns
          WHERE table_schema IN ('public', 'lora_ops') AND table_name <> 'schema_migrations'`,
      )
      const live = rows.map((r) => `${r.t}.${r.c}`).sort()
      const declared = Object.entries(REQUIRED_SCHEMA).flatMap(([t, cols]) => Object.keys(cols).map((c) => `${t}.${c}`)).sort()
      expect(live).toEqual(declared)
    })

    // One PGlite is one connection: two migrations at once only exist on a server.
    if (backend.name === 'postgres') it('applies migrations once when two processes migrate at the same moment', async () => {
      db = await backend.open({ migrated: false })
      const other = await db.connectAgain!()
      const results = await Promise.all([migrate(db), migrate(other)])
      const appliedCounts = results.map((r) => r.applied.length).sort()
      expect(appliedCounts).toEqual([0, MIGRATIONS.length])
      const ledger = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM lora_ops.schema_migrations')
      expect(ledger[0]!.n).toBe(MIGRATIONS.length)
    })
  })
}
