import { afterEach, describe, expect, it } from 'vitest'
import { backends, type TestDb } from '../helpers/db.js'
import { userRollups } from '../helpers/rollups.js'
import { MIGRATIONS, splitStatements } from '../../src/db/migrate.js'

const U1 = '00000000-0000-4000-8000-000000000001'
const U2 = '00000000-0000-4000-8000-000000000002'
const job = (n: number) => `a0000000-0000-4000-8000-${String(n).padStart(12, '0')}`

const DATASET = 'd0000000-0000-4000-8000-000000000001'

async function addJobs(db: TestDb, jobs: [number, string, string][]): Promise<void> {
  await db.query(
    `INSERT INTO datasets (id, user_id, name, format, status, storage_path) VALUES ($1, $2, 'd', 'chat', 'ready', 'd.jsonl')
     ON CONFLICT (id) DO NOTHING`,
    [DATASET, U1],
  )
  await db.query(
    `INSERT INTO training_jobs (id, user_id, dataset_id, status, created_at, updated_at)
     SELECT id, user_id, '${DATASET}', 'completed', created_at, created_at FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, user_id uuid, created_at timestamptz)`,
    [jobs.map(([n, user, created]) => ({ id: job(n), user_id: user, created_at: created }))],
  )
}

async function addCosts(db: TestDb, costs: [number | null, string, string, number, string][]): Promise<void> {
  await db.query(
    `INSERT INTO cost_records (job_id, user_id, cost_type, amount, billing_period, recorded_at)
     SELECT job_id, user_id, cost_type, amount, lora_ops.utc_month(recorded_at), recorded_at
       FROM jsonb_to_recordset($1::jsonb) AS x(job_id uuid, user_id uuid, cost_type text, amount numeric, recorded_at timestamptz)`,
    [costs.map(([n, user, type, amount, at]) => ({ job_id: n === null ? null : job(n), user_id: user, cost_type: type, amount, recorded_at: at }))],
  )
}

const costRollup = (db: TestDb) =>
  db.query<{ month: string; user_id: string; total_cost: number; records: number; jobs: number }>(
    `SELECT to_char(month, 'YYYY-MM') AS month, user_id, total_cost, records, jobs FROM lora_ops.user_month_costs
      WHERE records <> 0 ORDER BY month, user_id`,
  )

for (const backend of backends) {
  describe.skipIf(!backend.available)(`per-user rollups kept by the writes themselves (${backend.name})`, () => {
    let db: TestDb | undefined
    afterEach(async () => {
      await db?.close()
      db = undefined
    })

    it('sum cost records and count distinct jobs by user and UTC month, through inserts, updates, deletes and a deleted job', async () => {
      db = await backend.open()
      await addJobs(db, [[1, U1, '2026-02-27T10:00:00Z'], [2, U1, '2026-03-02T10:00:00Z'], [3, U2, '2026-03-31T23:30:00Z']])
      // Job 1 runs across the 1st (a record in each month); job 2 has two cost types in
      // one month (one job, two records); job 3 was created in March, charged in April
      // (the UTC month: 2026-04-01T00:30 is still March 31 in New York).
      await addCosts(db, [
        [1, U1, 'training_compute', 1.25, '2026-02-28T23:59:59.999Z'],
        [1, U1, 'training_compute', 0.75, '2026-03-01T00:40:00Z'],
        [2, U1, 'training_compute', 2, '2026-03-02T12:00:00Z'],
        [2, U1, 'storage', 0.5, '2026-03-02T12:00:00Z'],
        [3, U2, 'training_compute', 4, '2026-04-01T00:30:00Z'],
        [null, U2, 'adjustment', 0.1, '2026-04-02T00:00:00Z'],
      ])
      expect(await costRollup(db)).toEqual([
        { month: '2026-02', user_id: U1, total_cost: 1.25, records: 1, jobs: 1 },
        { month: '2026-03', user_id: U1, total_cost: 3.25, records: 3, jobs: 2 },
        { month: '2026-04', user_id: U2, total_cost: 4.1, records: 2, jobs: 1 },
      ])
      const jobs = await db.query(`SELECT to_char(month, 'YYYY-MM') AS month, user_id, jobs FROM lora_ops.user_month_jobs WHERE jobs <> 0 ORDER BY 1, 2`)
      expect(jobs).toEqual([{ month: '2026-02', user_id: U1, jobs: 1 }, { month: '2026-03', user_id: U1, jobs: 1 }, { month: '2026-03', user_id: U2, jobs: 1 }])

      // One of job 2's two records goes: still one job. A record corrected in place.
      await db.query(`DELETE FROM cost_records WHERE job_id = $1 AND cost_type = 'storage'`, [job(2)])
      await db.query(`UPDATE cost_records SET amount = 1.5 WHERE job_id = $1 AND recorded_at < '2026-03-01'`, [job(1)])
      // A job deleted: its records stay (job_id set to null), and no longer count as a job.
      await db.query('DELETE FROM training_jobs WHERE id = $1', [job(3)])
      // A job moved to another user.
      await db.query('UPDATE training_jobs SET user_id = $2 WHERE id = $1', [job(2), U2])
      expect(await costRollup(db)).toEqual([
        { month: '2026-02', user_id: U1, total_cost: 1.5, records: 1, jobs: 1 },
        { month: '2026-03', user_id: U1, total_cost: 2.75, records: 2, jobs: 2 },
        { month: '2026-04', user_id: U2, total_cost: 4.1, records: 2, jobs: 0 },
      ])
      const after = await userRollups(db)
      expect(after.rollup).toEqual(after.direct)
      expect(after.rollup.jobs).toEqual([`2026-02-01 ${U1} 1`, `2026-03-01 ${U2} 1`])

      await db.query('TRUNCATE cost_records')
      expect(await costRollup(db)).toEqual([])
    })

    it('the migration counts the rows that were there before it', async () => {
      db = await backend.open()
      await addJobs(db, [[1, U1, '2026-01-10T00:00:00Z'], [2, U2, '2026-01-11T00:00:00Z']])
      await addCosts(db, [[1, U1, 'training_compute', 3, '2026-01-10T02:00:00Z'], [2, U2, 'training_compute', 1, '2026-01-11T02:00:00Z']])
      // A database as 0005 left it: rows written, no rollups.
      await db.query('DROP TABLE lora_ops.user_month_costs, lora_ops.user_month_jobs CASCADE')
      await db.query('DROP TRIGGER cost_records_user_month_insert ON cost_records')
      await db.query('DROP TRIGGER training_jobs_user_month_insert ON training_jobs')
      const migration = MIGRATIONS.find((m) => m.version === 6)!
      await db.transaction(async (tx) => {
        for (const statement of splitStatements(migration.sql)) await tx.query(statement)
      })
      expect(await costRollup(db)).toEqual([
        { month: '2026-01', user_id: U1, total_cost: 3, records: 1, jobs: 1 },
        { month: '2026-01', user_id: U2, total_cost: 1, records: 1, jobs: 1 },
      ])
      const after = await userRollups(db)
      expect(after.rollup).toEqual(after.direct)
      // And keeps them from then on.
      await addCosts(db, [[1, U1, 'storage', 0.5, '2026-01-12T00:00:00Z']])
      expect((await costRollup(db))[0]).toEqual({ month: '2026-01', user_id: U1, total_cost: 3.5, records: 2, jobs: 1 })
    })

    if (backend.name === 'postgres') {
      it('two writers of one job and month at once count it once', async () => {
        db = await backend.open()
        await addJobs(db, [[1, U1, '2026-01-10T00:00:00Z']])
        const other = await db.connectAgain!()
        let release!: () => void
        const held = new Promise<void>((resolve) => (release = resolve))
        let inserted!: () => void
        const first = new Promise<void>((resolve) => (inserted = resolve))
        // The first writer's transaction stays open while the second writes.
        const a = db.transaction(async (tx) => {
          await tx.query(
            `INSERT INTO cost_records (job_id, user_id, cost_type, amount, billing_period, recorded_at)
             VALUES ($1, $2, 'training_compute', 1, '2026-01-01', '2026-01-10T01:00:00Z')`,
            [job(1), U1],
          )
          inserted()
          await held
        })
        await first
        const b = other.query(
          `INSERT INTO cost_records (job_id, user_id, cost_type, amount, billing_period, recorded_at)
           VALUES ($1, $2, 'storage', 2, '2026-01-01', '2026-01-10T02:00:00Z')`,
          [job(1), U1],
        )
        // The second waits for the first's lock on the rollup row, then counts what it committed.
        const waiting = `SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`
        while ((await db.query<{ n: number }>(waiting))[0]!.n === 0);
        release()
        await Promise.all([a, b])
        expect(await costRollup(db)).toEqual([{ month: '2026-01', user_id: U1, total_cost: 3, records: 2, jobs: 1 }])
      })
    }
  })
}
