import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { backends, type TestDb } from '../helpers/db.js'
import { testConfig } from '../helpers/context.js'
import { collectMetrics } from '../../src/metrics/collect.js'
import { computeDailySummary, summaryText } from '../../src/metrics/summary.js'
import { countActiveDatasets, sumDatasetStorage, sumModelStorage } from '../../src/db/queries/metrics.js'
import { ARTIFACTS, DS, GiB, J, MiB, NOW, U, seedPlatform, ago } from './fixture.js'

const H = 3_600_000
const pointAt = <P extends { bucket: string }>(points: P[], day: string) => points.find((p) => p.bucket === `${day}T00:00:00.000Z`)

for (const backend of backends) {
  describe.skipIf(!backend.available)(`metrics against hand-computed values (${backend.name})`, () => {
    let db: TestDb
    beforeAll(async () => {
      db = await backend.open()
      await seedPlatform(db)
    })
    afterAll(async () => {
      await db?.close()
    })
    const config = testConfig()

    it('jobs: queue, success and failure rates over one denominator (the jobs of 24 h that finished), training duration, stuck jobs, jobs per day', async () => {
      const r = await collectMetrics({ db, config, now: NOW }, { sections: ['jobs'] })
      const j = r.jobs!
      expect(j.queue_depth).toBe(2)
      expect(j.active).toEqual({ queued: 2, initializing: 0, running: 2 })
      // Created in 24 h: j1 j3 j4 j5 j6 j7 j8 j9; finished: j1 completed, j3 and j4 failed.
      // Both rates share that denominator (3), so they add up to 100 %.
      expect(j.success_rate).toEqual({ value: 33.33, completed: 1, failed: 2, finished: 3, window: '24h' })
      expect(j.failure_rate).toEqual({ value: 66.67, completed: 1, failed: 2, finished: 3, window: '24h' })
      // Completed in 30 d: j1 (1 h) and j2 (2 h); j10 is 40 days old.
      expect(j.avg_training_hours).toEqual({ value: 1.5, jobs: 2, window: '30d' })
      expect(j.stuck).toEqual({ count: 1, threshold_hours: 2, jobs: [{ id: J.j5, user_id: U.u3, cluster_name: 'primary', started_at: ago(4 * H).toISOString(), running_hours: 4 }] })
      expect(j.series).toMatchObject({ bucket_size: 'day', window: '30d' })
      expect(j.series.points).toHaveLength(31)
      expect(j.series.points[0]!.bucket).toBe('2025-12-16T00:00:00.000Z')
      expect(pointAt(j.series.points, '2026-01-15')).toEqual({ bucket: '2026-01-15T00:00:00.000Z', created: 7, completed: 0, failed: 2 })
      expect(pointAt(j.series.points, '2026-01-14')).toMatchObject({ created: 2, completed: 1, failed: 1 })
      expect(pointAt(j.series.points, '2026-01-13')).toMatchObject({ created: 1, completed: 1, failed: 0 })
      expect(pointAt(j.series.points, '2026-01-11')).toMatchObject({ created: 1, completed: 0, failed: 1 })
      expect(j.series.points.reduce((n, p) => n + p.created, 0)).toBe(11)
    })

    it('datasets: upload success rate (24 h), validation time (7 d), active datasets', async () => {
      const r = await collectMetrics({ db, config, now: NOW }, { sections: ['datasets'] })
      // d1 ready, d3 failed, d5 uploading were created in 24 h.
      expect(r.datasets).toEqual({
        upload_success_rate: { value: 33.33, ready: 1, total: 3, window: '24h' },
        // d1 took 4 min and d2 10 min; d4 was validated 10 days ago.
        avg_validation_minutes: { value: 7, datasets: 2, window: '7d' },
        active: 2,
      })
    })

    it('cost: per day, per user this month, most expensive jobs, cost per job, month to date', async () => {
      const c = (await collectMetrics({ db, config, now: NOW }, { sections: ['cost'] })).cost!
      // 3 + 1 + 4 + 0.5 + 0.25 over the jobs j1 j2 j3 j11.
      expect(c.avg_cost_per_job).toEqual({ value: 2.19, total_cost: 8.75, jobs: 4, window: '7d' })
      // Recorded in January (8.75) plus what j5 and j6 are burning (2.00).
      expect(c.month_to_date).toEqual({ spent: 10.75, recorded: 8.75, running: 2, budget: 200, used_percent: 5.38 })
      expect(c.per_user).toEqual({
        window: 'month',
        users: [
          { user_id: U.u2, total_cost: 4.75, num_jobs: 2, avg_cost_per_job: 2.38 },
          { user_id: U.u1, total_cost: 4, num_jobs: 2, avg_cost_per_job: 2 },
        ],
      })
      expect(c.most_expensive.jobs.map((j) => [j.job_id, j.user_id, j.total_cost, j.status])).toEqual([
        [J.j3, U.u2, 4.5, 'failed'],
        [J.j1, U.u1, 3, 'completed'],
        [J.j2, U.u1, 1, 'completed'],
        [J.j11, U.u2, 0.25, 'failed'],
      ])
      expect(pointAt(c.series.points, '2026-01-15')).toMatchObject({ total_cost: 4.5, num_jobs: 1 })
      expect(pointAt(c.series.points, '2026-01-14')).toMatchObject({ total_cost: 3, num_jobs: 1 })
      expect(pointAt(c.series.points, '2026-01-13')).toMatchObject({ total_cost: 1, num_jobs: 1 })
      expect(pointAt(c.series.points, '2026-01-11')).toMatchObject({ total_cost: 0.25, num_jobs: 1 })
      expect(c.series.points.reduce((n, p) => n + p.total_cost, 0)).toBeCloseTo(8.75)
    })

    it('storage: datasets and models (the seed 000 sizes), against the quota, growth, largest files', async () => {
      const s = (await collectMetrics({ db, config, now: NOW }, { sections: ['storage'] })).storage!
      const datasets = GiB + 512 * MiB + 100 * MiB // d1 d2 d3 (d5 has no size yet, d4 is deleted)
      const models = 100 * MiB + 50 * MiB + GiB // j1's, j2's; j10's size is not a number, j9's is deleted
      expect(s.datasets).toEqual({ bytes: datasets, gb: 1.598, count: 4 })
      expect(s.models).toEqual({ bytes: models, gb: 1.146, count: 3 })
      expect(s.used_bytes).toBe(datasets + models)
      expect(s.quota_bytes).toBe(100 * GiB)
      expect(s.used_percent).toBe(2.74)
      expect(s.largest_datasets).toEqual([
        { id: DS.d1, name: 'dataset 1', size_mb: 1024 },
        { id: DS.d2, name: 'dataset 2', size_mb: 512 },
        { id: DS.d3, name: 'dataset 3', size_mb: 100 },
      ])
      // j9's model was added today and deleted since: bytes added count all the same.
      expect(pointAt(s.growth.points, '2026-01-15')).toMatchObject({ datasets_bytes: GiB + 100 * MiB, models_bytes: 999 })
      expect(pointAt(s.growth.points, '2026-01-14')).toMatchObject({ datasets_bytes: 0, models_bytes: 100 * MiB })
      expect(pointAt(s.growth.points, '2026-01-13')).toMatchObject({ datasets_bytes: 0, models_bytes: 50 * MiB + GiB, gb_added: 1.049 })
      expect(pointAt(s.growth.points, '2026-01-12')).toMatchObject({ datasets_bytes: 512 * MiB, models_bytes: 0, gb_added: 0.5 })
      // Bytes added include a dataset deleted since (growth is what was added).
      expect(pointAt(s.growth.points, '2026-01-05')).toMatchObject({ datasets_bytes: 2 * GiB })
      expect(ARTIFACTS).toHaveLength(4)
    })

    it('errors: error types with counts and last seen (seed 002), and the latest failed jobs', async () => {
      const e = (await collectMetrics({ db, config, now: NOW }, { sections: ['errors'] })).errors!
      expect(e.by_type).toEqual({
        window: '7d',
        types: [
          { error_type: 'CLUSTER_API_ERROR', count: 1, last_occurred: ago(170 * 60_000).toISOString() },
          { error_type: 'TIMEOUT_ERROR', count: 1, last_occurred: ago(7 * H).toISOString() },
          { error_type: 'TRAINING_ERROR', count: 1, last_occurred: ago(20 * H).toISOString() },
          { error_type: 'VALIDATION_ERROR', count: 1, last_occurred: ago(95 * H).toISOString() },
        ],
      })
      expect(e.recent_failed.map((j) => [j.id, j.error_type])).toEqual([
        [J.j4, 'CLUSTER_API_ERROR'],
        [J.j3, 'TIMEOUT_ERROR'],
        [J.j12, 'TRAINING_ERROR'],
        [J.j11, 'VALIDATION_ERROR'],
      ])
    })

    it('users: active, new, at their limit, the top users with success rate and cost', async () => {
      const u = (await collectMetrics({ db, config, now: NOW }, { sections: ['users'] })).users!
      // January (UTC), from the per-user rollups: j10 (December) is not counted.
      expect(u).toEqual({
        window: 'month',
        active: 4,
        new: 2,
        at_limit: 1,
        top: [
          { user_id: U.u1, jobs: 3, completed: 2, failed: 0, success_rate: 100, total_cost: 4 },
          { user_id: U.u2, jobs: 3, completed: 0, failed: 3, success_rate: 0, total_cost: 4.75 },
          { user_id: U.u3, jobs: 3, completed: 0, failed: 1, success_rate: 0, total_cost: 0 },
          { user_id: U.u4, jobs: 2, completed: 0, failed: 0, success_rate: null, total_cost: 0 },
        ],
      })
    })

    it('--period sets every window but the per-user month, with hourly buckets up to 24 h', async () => {
      const r = await collectMetrics({ db, config, now: NOW }, { period: '24h' })
      expect(r.jobs!.success_rate).toEqual({ value: 33.33, completed: 1, failed: 2, finished: 3, window: '24h' })
      expect(r.jobs!.avg_training_hours).toEqual({ value: 1, jobs: 1, window: '24h' })
      expect(r.jobs!.series.bucket_size).toBe('hour')
      expect(r.jobs!.series.points).toHaveLength(25)
      expect(r.jobs!.series.points.find((p) => p.bucket === '2026-01-15T09:00:00.000Z')).toMatchObject({ created: 1, failed: 1 })
      // The per-user figures stay by calendar month: they come from the monthly rollups.
      expect(r.cost!.per_user).toEqual({
        window: 'month',
        users: [
          { user_id: U.u2, total_cost: 4.75, num_jobs: 2, avg_cost_per_job: 2.38 },
          { user_id: U.u1, total_cost: 4, num_jobs: 2, avg_cost_per_job: 2 },
        ],
      })
      expect(r.users!.window).toBe('month')
      expect(r.datasets!.avg_validation_minutes).toEqual({ value: 4, datasets: 1, window: '24h' })
      expect(r.errors!.by_type.types.map((t) => t.error_type)).toEqual(['CLUSTER_API_ERROR', 'TIMEOUT_ERROR', 'TRAINING_ERROR'])
      expect(r.users!.active).toBe(4)
    })

    it('colours the indicators by the profile thresholds', async () => {
      const r = await collectMetrics({ db, config, now: NOW })
      const status = Object.fromEntries(r.indicators.map((i) => [i.name, [i.value, i.status]]))
      expect(status).toEqual({
        'jobs.queue_depth': [2, 'ok'],
        'jobs.failure_rate': [66.67, 'critical'],
        'jobs.success_rate': [33.33, 'critical'],
        'jobs.stuck': [1, 'warning'],
        'datasets.avg_validation_minutes': [7, 'warning'],
        'cost.avg_cost_per_job': [2.19, 'ok'],
        'cost.budget_used': [5.38, 'ok'],
        'storage.quota_used': [2.74, 'ok'],
      })
      const strict = testConfig({ alerts: undefined, budget: { monthlyUsd: 10, warnRatio: 0.75 } })
      const tight = await collectMetrics({ db, config: strict, now: NOW }, { sections: ['cost'] })
      expect(tight.indicators.find((i) => i.name === 'cost.budget_used')).toMatchObject({ value: 107.5, status: 'critical', warning: 75, critical: 100 })
    })

    it('the daily summary covers yesterday (UTC): seed 000 contents', async () => {
      const s = await computeDailySummary({ db, config, now: NOW })
      expect(s).toEqual({
        date: '2026-01-14',
        jobs_completed: 1,
        jobs_failed: 1,
        avg_cost_per_job: 3,
        total_cost: 3,
        storage: { used_bytes: 2946498560, used_gb: 2.744, quota_bytes: 100 * GiB, used_percent: 2.74 },
        failed_jobs: [{ id: J.j12, user_id: U.u3, error_type: 'TRAINING_ERROR', error_message: 'CUDA out of memory', completed_at: ago(20 * H).toISOString() }],
        new_users: 1,
        alerts_firing: 0,
      })
      expect(summaryText(s)).toBe(
        [
          'Daily summary for 2026-01-14 (UTC)',
          'Jobs completed: 1',
          'Average cost per job: $3.00 ($3.00 in total)',
          'Total storage used: 2.74 GB of 100 GB (2.7 %)',
          'Failed jobs requiring attention: 1',
          `  - ${J.j12} TRAINING_ERROR: CUDA out of memory`,
          'New users: 1',
          'Alerts firing: 0',
        ].join('\n'),
      )
    })
  })
}

/** What the running totals must always equal: seed 000's queries, summed the slow way. */
async function recount(db: TestDb) {
  const [row] = await db.query<{ ds_bytes: number; ds_live: number; ready: number; m_bytes: number; m_live: number }>(`
    SELECT (SELECT coalesce(sum(file_size), 0) FROM datasets WHERE deleted_at IS NULL)::int8 AS ds_bytes,
           (SELECT count(*) FROM datasets WHERE deleted_at IS NULL)::int AS ds_live,
           (SELECT count(*) FROM datasets WHERE status = 'ready' AND deleted_at IS NULL)::int AS ready,
           (SELECT coalesce(sum(
              CASE WHEN artifacts->>'lora_adapter_size' ~ '^[0-9]+$' THEN (artifacts->>'lora_adapter_size')::bigint ELSE 0 END +
              CASE WHEN artifacts->>'full_model_size' ~ '^[0-9]+$' THEN (artifacts->>'full_model_size')::bigint ELSE 0 END), 0)
              FROM model_artifacts WHERE deleted_at IS NULL)::int8 AS m_bytes,
           (SELECT count(*) FROM model_artifacts WHERE deleted_at IS NULL)::int AS m_live`)
  return row!
}

async function kept(db: TestDb) {
  const [ds, models, ready] = await Promise.all([sumDatasetStorage(db), sumModelStorage(db), countActiveDatasets(db)])
  return { ds_bytes: ds.bytes, ds_live: ds.count, ready, m_bytes: models.bytes, m_live: models.count }
}

for (const backend of backends) {
  describe.skipIf(!backend.available)(`storage totals kept by triggers (${backend.name})`, () => {
    let db: TestDb
    beforeAll(async () => {
      db = await backend.open()
      await seedPlatform(db)
    })
    afterAll(async () => {
      await db?.close()
    })

    it('stay equal to a recount through inserts, updates, soft and hard deletes, upserts and truncation', async () => {
      expect(await kept(db)).toEqual(await recount(db))
      const steps = [
        `UPDATE datasets SET file_size = 2048, status = 'ready' WHERE id = '${DS.d5}'`,
        `UPDATE datasets SET deleted_at = now() WHERE id = '${DS.d1}'`,
        `UPDATE datasets SET deleted_at = NULL WHERE id = '${DS.d4}'`,
        `UPDATE datasets SET status = 'failed' WHERE id = '${DS.d2}'`,
        // An update that changes nothing the totals count: no write to the totals row.
        `UPDATE datasets SET updated_at = now()`,
        `UPDATE model_artifacts SET artifacts = '{"lora_adapter_size": 10, "full_model_size": 5}' WHERE job_id = '${J.j10}'`,
        `UPDATE model_artifacts SET deleted_at = now() WHERE job_id = '${J.j1}'`,
        `INSERT INTO model_artifacts (job_id, user_id, artifacts) VALUES ('${J.j3}', '${U.u2}', '{"lora_adapter_size": 7}')
           ON CONFLICT (job_id) DO UPDATE SET artifacts = EXCLUDED.artifacts`,
        `INSERT INTO model_artifacts (job_id, user_id, artifacts) VALUES ('${J.j3}', '${U.u2}', '{"lora_adapter_size": 9}')
           ON CONFLICT (job_id) DO UPDATE SET artifacts = EXCLUDED.artifacts`,
        `WITH gone AS (DELETE FROM model_artifacts WHERE job_id = '${J.j2}' RETURNING job_id)
           INSERT INTO datasets (user_id, name, format, status, storage_path, file_size) SELECT '${U.u4}', 'new', 'chat', 'ready', 'x', 4096 FROM gone`,
        `DELETE FROM datasets WHERE id = '${DS.d3}'`,
      ]
      for (const sql of steps) {
        await db.query(sql)
        expect(await kept(db), sql).toEqual(await recount(db))
      }
      // A rolled-back write leaves no trace.
      const rollBack = new Error('roll back')
      await expect(
        db.transaction(async (tx) => {
          await tx.query(`INSERT INTO datasets (user_id, name, format, status, storage_path, file_size) VALUES ('${U.u4}', 'n', 'chat', 'ready', 'y', 1)`)
          throw rollBack
        }),
      ).rejects.toBe(rollBack)
      expect(await kept(db)).toEqual(await recount(db))
      await db.query('TRUNCATE model_artifacts')
      expect(await kept(db)).toEqual(await recount(db))
      expect((await kept(db)).m_live).toBe(0)
    })
  })
}
