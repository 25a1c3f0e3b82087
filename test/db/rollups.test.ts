import { afterEach, describe, expect, it } from 'vitest'
import { backends, type TestDb } from '../helpers/db.js'
import { dailyRollups, userRollups } from '../helpers/rollups.js'
import { MIGRATIONS, splitStatements } from '../../src/db/migrate.js'
import { METRICS_SQL } from '../../src/db/queries/metrics.js'
import { readSeries, SERIES_FIELDS } from '../../src/metrics/series.js'
import type { Queryable } from '../../src/db/types.js'
import { analyzeLargePlatform, seedLargePlatform } from '../../bench/metrics-seed.js'

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
        // The daily rollup of migration 0007 counts the job once in its day the same way.
        expect((await dailyRollups(db)).rollup.cost).toEqual(['2026-01-10 3 1'])
      })
    }
  })
}

interface DailyJob { n: number; created: string; status: string; started?: string | null; completed?: string | null }

async function addDailyJobs(db: TestDb, jobs: DailyJob[]): Promise<void> {
  await db.query(
    `INSERT INTO datasets (id, user_id, name, format, status, storage_path) VALUES ($1, $2, 'd', 'chat', 'ready', 'd.jsonl')
     ON CONFLICT (id) DO NOTHING`,
    [DATASET, U1],
  )
  await db.query(
    `INSERT INTO training_jobs (id, user_id, dataset_id, status, created_at, started_at, completed_at, updated_at)
     SELECT id, $2, $3, status, created_at, started_at, completed_at, created_at
       FROM jsonb_to_recordset($1::jsonb) AS x(id uuid, status text, created_at timestamptz, started_at timestamptz, completed_at timestamptz)`,
    [jobs.map((j) => ({ id: job(j.n), status: j.status, created_at: j.created, started_at: j.started ?? null, completed_at: j.completed ?? null })), U1, DATASET],
  )
}

async function addArtifacts(db: TestDb, artifacts: [number, Record<string, unknown>, string][]): Promise<void> {
  await db.query(
    `INSERT INTO model_artifacts (job_id, user_id, artifacts, created_at)
     SELECT job_id, $2, artifacts, created_at FROM jsonb_to_recordset($1::jsonb) AS x(job_id uuid, artifacts jsonb, created_at timestamptz)`,
    [artifacts.map(([n, sizes, at]) => ({ job_id: job(n), artifacts: sizes, created_at: at })), U1],
  )
}

/** Every statement a function runs, by its text. */
function recording(db: Queryable): { db: Queryable; statements: string[] } {
  const statements: string[] = []
  return {
    statements,
    db: {
      query: (sql: string, params?: unknown[]) => {
        statements.push(sql)
        return db.query(sql, params)
      },
    } as Queryable,
  }
}

for (const backend of backends) {
  describe.skipIf(!backend.available)(`daily rollups of the series kept by the writes themselves (${backend.name})`, () => {
    let db: TestDb | undefined
    afterEach(async () => {
      await db?.close()
      db = undefined
    })

    it('equal the live series statements by UTC day through inserts, state changes, corrections and deletions, across day and month ends', async () => {
      db = await backend.open()
      // The last millisecond of February and the first of March; a job finished without
      // a start (not trained); unfinished jobs count as created only.
      await addDailyJobs(db, [
        { n: 1, created: '2026-02-28T21:00:00Z', status: 'completed', started: '2026-02-28T22:00:00Z', completed: '2026-02-28T23:59:59.999Z' },
        { n: 2, created: '2026-02-28T23:59:59.999Z', status: 'completed', started: null, completed: '2026-03-01T00:00:00Z' },
        { n: 3, created: '2026-03-01T00:00:00Z', status: 'failed', started: '2026-03-01T09:00:00Z', completed: '2026-03-01T10:00:00.5Z' },
        { n: 4, created: '2026-03-01T10:00:00Z', status: 'running', started: '2026-03-01T11:00:00Z' },
        { n: 5, created: '2026-03-01T10:30:00Z', status: 'queued' },
        { n: 6, created: '2026-03-01T10:45:00Z', status: 'cancelled', started: '2026-03-01T11:00:00Z', completed: '2026-03-01T12:00:00Z' },
      ])
      await addCosts(db, [
        [1, U1, 'training_compute', 1.25, '2026-02-28T23:59:59.999Z'],
        [1, U1, 'storage', 0.1, '2026-03-01T00:00:00Z'],
        [2, U1, 'training_compute', 2, '2026-03-01T00:00:00Z'],
        [2, U1, 'storage', 0.5, '2026-03-01T23:00:00Z'],
        [3, U1, 'training_compute', 0.3, '2026-03-01T10:00:00Z'],
        [null, U1, 'adjustment', 0.2, '2026-03-01T10:00:00Z'],
      ])
      await addArtifacts(db, [
        [1, { lora_adapter_size: 1000 }, '2026-02-28T23:59:59.999Z'],
        [2, { lora_adapter_size: 2000, full_model_size: 30000 }, '2026-03-01T00:00:00Z'],
      ])
      const first = await dailyRollups(db)
      expect(first.rollup).toEqual(first.direct)
      expect(first.rollup).toEqual({
        jobs: ['2026-02-28 2 1 0 7199.999 1', '2026-03-01 4 1 1 0 0'],
        cost: ['2026-02-28 1.25 1', '2026-03-01 3.1 3'],
        models: ['2026-02-28 1000', '2026-03-01 32000'],
      })

      // The daemon's writes: a running job completes; polls and claims of unfinished ones.
      await db.query(`UPDATE training_jobs SET status = 'completed', completed_at = '2026-03-02T01:00:00Z' WHERE id = $1`, [job(4)])
      await db.query(`UPDATE training_jobs SET status = 'initializing', started_at = '2026-03-02T00:00:00Z' WHERE id = $1`, [job(5)])
      await db.query(`UPDATE training_jobs SET progress = 50, updated_at = '2026-03-02T00:00:00Z'`)
      // Corrections: a failed job judged completed; a completion moved across midnight;
      // a start recorded late; a completed job cancelled after all; in one statement.
      await db.query(
        `UPDATE training_jobs SET
           status = CASE id WHEN $1::uuid THEN 'completed' WHEN $4::uuid THEN 'cancelled' ELSE status END,
           completed_at = CASE id WHEN $2::uuid THEN '2026-03-01T00:30:00Z'::timestamptz ELSE completed_at END,
           started_at = CASE id WHEN $3::uuid THEN '2026-02-28T23:00:00Z'::timestamptz ELSE started_at END
         WHERE id IN ($1, $2, $3, $4)`,
        [job(3), job(1), job(2), job(6)],
      )
      // A job's creation moved to the next day.
      await db.query(`UPDATE training_jobs SET created_at = '2026-03-02T00:00:00Z' WHERE id = $1`, [job(5)])
      // Cost: one of a job's two records of a day goes (still one job that day), one is
      // corrected, one moves to the next day; a job deleted keeps its records (job_id null).
      await db.query(`DELETE FROM cost_records WHERE job_id = $1 AND cost_type = 'storage'`, [job(2)])
      await db.query(`UPDATE cost_records SET amount = 1.5 WHERE job_id = $1 AND cost_type = 'training_compute'`, [job(1)])
      await db.query(`UPDATE cost_records SET recorded_at = '2026-03-02T00:00:00Z' WHERE job_id = $1`, [job(3)])
      // Model bytes: a size corrected, a status change (no bytes), a soft delete (still
      // counted: bytes added that day), a hard delete (gone).
      await db.query(`UPDATE model_artifacts SET artifacts = '{"lora_adapter_size": 1500}' WHERE job_id = $1`, [job(1)])
      await db.query(`UPDATE model_artifacts SET status = 'upload_failed', deleted_at = '2026-03-03T00:00:00Z' WHERE job_id = $1`, [job(1)])
      await db.query('DELETE FROM model_artifacts WHERE job_id = $1', [job(2)])
      await db.query('DELETE FROM training_jobs WHERE id = $1', [job(2)])
      const after = await dailyRollups(db)
      expect(after.rollup).toEqual(after.direct)
      expect(after.rollup).toEqual({
        jobs: ['2026-02-28 1 0 0 0 0', '2026-03-01 3 2 0 12600.5 2', '2026-03-02 1 1 0 50400 1'],
        cost: ['2026-02-28 1.5 1', '2026-03-01 2.3 1', '2026-03-02 0.3 1'],
        models: ['2026-02-28 1500'],
      })

      await db.query('TRUNCATE cost_records, model_artifacts')
      expect((await dailyRollups(db)).rollup).toMatchObject({ cost: [], models: [] })
    })

    it('the migration counts the rows that were there before it', async () => {
      db = await backend.open()
      await addDailyJobs(db, [{ n: 1, created: '2026-01-10T00:00:00Z', status: 'completed', started: '2026-01-10T00:00:00Z', completed: '2026-01-10T01:00:00Z' }])
      await addCosts(db, [[1, U1, 'training_compute', 3, '2026-01-10T01:00:00Z']])
      await addArtifacts(db, [[1, { lora_adapter_size: 7 }, '2026-01-10T01:00:00Z']])
      // A database as 0006 left it: rows written, no daily rollups.
      await db.query('DROP TABLE lora_ops.jobs_daily, lora_ops.cost_daily, lora_ops.model_bytes_daily CASCADE')
      for (const [trigger, table] of [['training_jobs_daily_insert', 'training_jobs'], ['cost_records_daily_insert', 'cost_records'], ['model_artifacts_daily_insert', 'model_artifacts']]) {
        await db.query(`DROP TRIGGER ${trigger} ON ${table}`)
      }
      const migration = MIGRATIONS.find((m) => m.version === 7)!
      await db.transaction(async (tx) => {
        for (const statement of splitStatements(migration.sql)) await tx.query(statement)
      })
      const counted = await dailyRollups(db)
      expect(counted.rollup).toEqual(counted.direct)
      expect(counted.rollup).toEqual({ jobs: ['2026-01-10 1 1 0 3600 1'], cost: ['2026-01-10 3 1'], models: ['2026-01-10 7'] })
      // And keeps them from then on.
      await addCosts(db, [[1, U1, 'storage', 0.5, '2026-01-10T02:00:00Z']])
      expect((await dailyRollups(db)).rollup.cost).toEqual(['2026-01-10 3.5 1'])
    })

    it('a 30-day series fills its closed days from the rollups, with the figures the live statements give', async () => {
      db = await backend.open()
      const now = new Date('2026-03-02T12:00:00Z')
      // A year of jobs (one every ~3 hours), ending at `now`: every day of the window has some.
      await seedLargePlatform(db, { now, jobs: 3000, pointsPerJob: 0, datasets: 50, users: 20 })
      await analyzeLargePlatform(db)
      const since = new Date(now.getTime() - 30 * 86_400_000)
      const D = 86_400_000
      const from = new Date(Math.floor(since.getTime() / D) * D)
      const today = new Date(Math.floor(now.getTime() / D) * D)
      const live = {
        jobs: async () => {
          const [created, finished] = [
            await db!.query<{ bucket: Date; created: number }>(METRICS_SQL.jobsCreatedSeries, [from, today, '1 day']),
            await db!.query<{ bucket: Date; completed: number; failed: number; training_seconds: number; trained: number }>(METRICS_SQL.jobsFinishedSeries, [from, today, '1 day']),
          ]
          return byDay([...created, ...finished])
        },
        cost: async () => byDay(await db!.query<{ bucket: Date }>(METRICS_SQL.costSeries, [from, today, '1 day'])),
        storage: async () =>
          byDay([
            ...(await db!.query<{ bucket: Date; bytes: number }>(METRICS_SQL.datasetGrowth, [from, today, '1 day'])).map((r) => ({ bucket: r.bucket, datasets_bytes: r.bytes })),
            ...(await db!.query<{ bucket: Date; bytes: number }>(METRICS_SQL.modelGrowth, [from, today, '1 day'])).map((r) => ({ bucket: r.bucket, models_bytes: r.bytes })),
          ]),
      }
      for (const metric of ['jobs', 'cost', 'storage'] as const) {
        const r = recording(db)
        const points = await readSeries(r.db, metric, since, now, 'day')
        // The closed days came from the rollups, not from the big tables' series statements.
        const fill = r.statements.filter((sql) => sql !== METRICS_SQL.cachedDays && sql !== METRICS_SQL.cacheDays)
        const named = fill.map((sql) => Object.entries(METRICS_SQL).find(([, text]) => text === sql)?.[0])
        expect(named.slice(0, -({ jobs: 2, cost: 1, storage: 2 })[metric]).sort()).toEqual(
          ({ jobs: ['jobsDays'], cost: ['costDays'], storage: ['datasetGrowth', 'modelGrowthDays'] })[metric],
        )
        const closed = Object.fromEntries(points.filter((p) => p.start < today.getTime()).map((p) => [new Date(p.start).toISOString().slice(0, 10), p.values]))
        expect(Object.keys(closed)).toHaveLength(30)
        const expected = await live[metric]()
        const zero = Object.fromEntries(SERIES_FIELDS[metric].map((f) => [f, 0]))
        for (const [day, values] of Object.entries(closed)) expect({ day, ...values }).toEqual({ day, ...zero, ...expected[day] })
        expect(Object.values(closed).some((v) => Object.values(v).some((x) => x > 0))).toBe(true)
      }
    }, 60_000)
  })
}

/** Rows of the live statements by UTC day, their figures merged. */
function byDay(rows: { bucket: Date }[]): Record<string, Record<string, number>> {
  const out: Record<string, Record<string, number>> = {}
  for (const { bucket, ...figures } of rows) Object.assign((out[bucket.toISOString().slice(0, 10)] ??= {}), figures)
  return out
}
