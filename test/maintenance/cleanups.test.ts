import { afterEach, describe, expect, it } from 'vitest'
import { backends } from '../helpers/db.js'
import { daemonHarness, USER, type DaemonHarness } from '../helpers/daemon.js'
import { testContext } from '../helpers/context.js'
import { runTask } from '../../src/maintenance/tasks.js'
import { runCleanupCommand, CleanupOptions } from '../../src/maintenance/command.js'
import { runCycle } from '../../src/daemon/cycle.js'
import { createClusterClient } from '../../src/cluster/client.js'
import { UsageError } from '../../src/errors.js'
import { Scheduler, SCHEDULE } from '../../src/maintenance/schedule.js'
import { memoryLog } from '../../src/log.js'

const DAY = 86_400_000
const OPTIONS = { batch: 20, concurrency: 8, pollLimit: 1000 }

async function notificationsFixture(h: DaemonHarness) {
  const now = h.clock.now().getTime()
  // 30 old read ones, 5 old unread ones, 5 recent read ones.
  for (const [count, read, age] of [[30, true, 40], [5, false, 40], [5, true, 2]] as const) {
    await h.db.query(
      `INSERT INTO notifications (user_id, type, title, message, read, created_at)
       SELECT $1, 'info', 't', 'm', $2, $3 FROM generate_series(1, $4)`,
      [USER, read, new Date(now - age * DAY), count],
    )
  }
}

for (const backend of backends) {
  describe.skipIf(!backend.available)(`cleanups (${backend.name})`, () => {
    let h: DaemonHarness | undefined
    afterEach(async () => {
      await h?.close()
      h = undefined
    })

    it('deletes read notifications past the cut-off only; --dry-run counts and changes nothing; audit logged', async () => {
      h = await daemonHarness(backend)
      await notificationsFixture(h)
      const dry = await runTask(h.ctx, 'notifications', { dryRun: true, yes: false })
      expect(dry).toMatchObject({ dry_run: true, changed: 30, summary: 'dry run: 30 read notification(s) to delete' })
      expect((await h.db.query('SELECT id FROM notifications')).length).toBe(40)
      const done = await runTask(h.ctx, 'notifications', { dryRun: false, yes: true })
      expect(done).toMatchObject({ changed: 30, summary: '30 read notification(s) deleted' })
      const left = await h.db.query<{ read: boolean; n: number }>('SELECT read, count(*)::int AS n FROM notifications GROUP BY read ORDER BY read')
      expect(left).toEqual([{ read: false, n: 5 }, { read: true, n: 5 }])
      expect(await runTask(h.ctx, 'notifications', { dryRun: false, yes: true })).toMatchObject({ changed: 0 })
      const audit = await h.db.query<{ action: string; count: number }>(`SELECT action, count FROM lora_ops.audit_log ORDER BY id`)
      expect(audit).toEqual([{ action: 'cleanup.notifications', count: 30 }])
    })

    it('refuses garbage for --older-than and a destructive run without --yes off a terminal, changing nothing', async () => {
      h = await daemonHarness(backend)
      await notificationsFixture(h)
      const parsed = CleanupOptions.safeParse({ json: false, olderThan: 'last tuesday' })
      expect(parsed.success).toBe(false)
      expect(parsed.error!.issues[0]!.message).toBe('expected a duration such as 2s, 10m or 7d (got "last tuesday")')
      const t = testContext({ db: h.db, config: h.config, clock: h.clock })
      const error = await runCleanupCommand('notifications', CleanupOptions.parse({ json: false }), t.ctx).then(() => null, (e: unknown) => e)
      expect(error).toBeInstanceOf(UsageError)
      expect((error as UsageError).message).toBe('The notifications cleanup (30 read notification(s) to delete) needs --yes without a terminal.')
      expect((await h.db.query('SELECT id FROM notifications')).length).toBe(40)
    })

    it('deletes validation images from storage first, then clears them from the row', async () => {
      h = await daemonHarness(backend)
      const [id] = await h.submit(1)
      for (let i = 0; i < 40; i++) {
        await runCycle(await h.env(), OPTIONS)
        h.clock.advance(10 * 60_000)
        if ((await h.db.query(`SELECT 1 FROM training_jobs WHERE status = 'completed'`)).length) break
      }
      const storage = await h.ctx.storage()
      const image = `${USER}/${id}/validation/0.jpg`
      expect(await storage.stat('lora-validation-images', image)).not.toBeNull()
      expect(await runTask(h.ctx, 'validation-images', { dryRun: false, yes: true })).toMatchObject({ changed: 0 })
      h.clock.advance(31 * DAY)
      const dry = await runTask(h.ctx, 'validation-images', { dryRun: true, yes: false })
      expect(dry).toMatchObject({ changed: 3 })
      expect(await storage.stat('lora-validation-images', image)).not.toBeNull()
      const done = await runTask(h.ctx, 'validation-images', { dryRun: false, yes: true })
      expect(done).toMatchObject({ changed: 3, summary: '3 validation image(s) of 1 artifact(s) deleted' })
      expect(await storage.stat('lora-validation-images', image)).toBeNull()
      const [artifact] = await h.db.query<{ validation_image_urls: string[]; storage_path: string }>('SELECT validation_image_urls, storage_path FROM model_artifacts')
      expect(artifact).toEqual({ validation_image_urls: [], storage_path: `${USER}/${id}/adapter.safetensors` })
      // The adapter is never touched.
      expect(await storage.stat('lora-models', artifact!.storage_path)).not.toBeNull()
    })

    it('retries a failed artifact upload from the URLs the cluster gave', async () => {
      h = await daemonHarness(backend)
      const [id] = await h.submit(2)
      const env = { ...(await h.env()), fetch: async () => Promise.reject(new Error('storage unavailable')) }
      for (let i = 0; i < 40; i++) {
        await runCycle(env, OPTIONS)
        h.clock.advance(10 * 60_000)
        if ((await h.db.query(`SELECT 1 FROM training_jobs WHERE status IN ('queued','running')`)).length === 0) break
      }
      const failed = await h.db.query<{ job_id: string; status: string; source_urls: { adapter_url: string } }>(`SELECT job_id, status, source_urls FROM model_artifacts ORDER BY job_id`)
      expect(failed).toHaveLength(2)
      expect(failed.every((a) => a.status === 'upload_failed' && a.source_urls.adapter_url.startsWith(h!.sim.url))).toBe(true)
      // The jobs completed all the same: the adapter is not lost, only not copied yet.
      expect((await h.db.query(`SELECT 1 FROM training_jobs WHERE status = 'completed'`)).length).toBe(2)

      const retried = await runTask(h.ctx, 'uploads', { dryRun: false, yes: true })
      expect(retried).toMatchObject({ changed: 2, failed: 0 })
      const stored = await h.db.query<{ status: string; storage_path: string; source_urls: unknown }>(`SELECT status, storage_path, source_urls FROM model_artifacts WHERE job_id = $1`, [id])
      expect(stored).toEqual([{ status: 'stored', storage_path: `${USER}/${id}/adapter.safetensors`, source_urls: null }])
      expect(await (await h.ctx.storage()).stat('lora-models', `${USER}/${id}/adapter.safetensors`)).not.toBeNull()
    })

    it('gives up on an upload after its third failed attempt', async () => {
      h = await daemonHarness(backend)
      await h.submit(1)
      const failing = async () => Promise.reject(new Error('storage unavailable'))
      const env = { ...(await h.env()), fetch: failing }
      for (let i = 0; i < 40; i++) {
        await runCycle(env, OPTIONS)
        h.clock.advance(10 * 60_000)
        if ((await h.db.query(`SELECT 1 FROM model_artifacts`)).length) break
      }
      const { retryFailedUploads } = await import('../../src/maintenance/storage-cleanups.js')
      expect((await retryFailedUploads(h.ctx, false, failing)).results).toEqual([expect.objectContaining({ outcome: 'failed', attempts: 2 })])
      expect((await retryFailedUploads(h.ctx, false, failing)).results).toEqual([expect.objectContaining({ outcome: 'gave_up', attempts: 3, error: 'storage unavailable' })])
      expect((await retryFailedUploads(h.ctx, false, failing)).pending).toEqual([])
    })

    if (backend.name === 'postgres') it('does each deletion once when two cleanups run at the same moment', async () => {
      h = await daemonHarness(backend)
      await notificationsFixture(h)
      await h.db.query(
        `INSERT INTO notifications (user_id, type, title, message, read, created_at)
         SELECT $1, 'info', 't', 'm', true, $2 FROM generate_series(1, 3000)`,
        [USER, new Date(h.clock.now().getTime() - 60 * DAY)],
      )
      const other = testContext({ db: await h.db.connectAgain!(), config: h.config, clock: h.clock })
      const [a, b] = await Promise.all([
        runTask(h.ctx, 'notifications', { dryRun: false, yes: true }),
        runTask(other.ctx, 'notifications', { dryRun: false, yes: true }),
      ])
      expect(a!.changed + b!.changed).toBe(3030)
      expect((await h.db.query('SELECT id FROM notifications')).length).toBe(10)
    })

    it('cancels an orphan that resists twice on the third attempt, confirms it gone, records it; leaves recent jobs alone', async () => {
      h = await daemonHarness(backend, { simulator: { cancelResistance: 2 } })
      const client = createClusterClient({ name: 'c', url: h.sim.url, connectTimeoutMs: 2000, requestTimeoutMs: 2000 }, { clock: h.clock })
      const unknown = await client.submit({ job_id: '11111111-1111-4111-8111-111111111111', dataset_url: 'http://127.0.0.1:1/x', hyperparameters: { num_epochs: 1 }, gpu_config: { gpu_type: 'A10G', num_gpus: 1 } })
      h.clock.advance(10 * 60_000)
      const fresh = await client.submit({ job_id: '22222222-2222-4222-8222-222222222222', dataset_url: 'http://127.0.0.1:1/x', hyperparameters: { num_epochs: 1 }, gpu_config: { gpu_type: 'A10G', num_gpus: 1 } })
      const plan = await runTask(h.ctx, 'orphans', { dryRun: true, yes: false })
      expect(plan!.items).toEqual([expect.objectContaining({ external_job_id: unknown.external_job_id, reason: 'unknown to the database', hourly_cost_usd: 4.5 })])
      const done = await runTask(h.ctx, 'orphans', { dryRun: false, yes: true })
      expect(done).toMatchObject({ changed: 1, failed: 0 })
      expect(done!.items).toEqual([expect.objectContaining({ outcome: 'cleaned', attempts: 3 })])
      expect((await client.status(unknown.external_job_id)).status).toBe('cancelled')
      expect((await client.status(fresh.external_job_id)).status).not.toBe('cancelled')
      const rows = await h.db.query<{ status: string; attempts: number; reason: string }>('SELECT status, attempts, reason FROM lora_ops.orphaned_instances')
      expect(rows).toEqual([{ status: 'cleaned', attempts: 3, reason: 'unknown to the database' }])
      await client.close()
    })

    it('records an orphan that resists every attempt as failed, and exits 1', async () => {
      h = await daemonHarness(backend, { simulator: { cancelResistance: 10 } })
      const client = createClusterClient({ name: 'c', url: h.sim.url, connectTimeoutMs: 2000, requestTimeoutMs: 2000 }, { clock: h.clock })
      await client.submit({ job_id: '33333333-3333-4333-8333-333333333333', dataset_url: 'http://127.0.0.1:1/x', hyperparameters: { num_epochs: 1 }, gpu_config: { gpu_type: 'A10G', num_gpus: 1 } })
      await client.close()
      h.clock.advance(10 * 60_000)
      const t = testContext({ db: h.db, config: h.config, clock: h.clock })
      const code = await runCleanupCommand('orphans', CleanupOptions.parse({ json: true, yes: true }), t.ctx)
      expect(code).toBe(1)
      expect(JSON.parse(t.stdout())).toMatchObject({ task: 'orphans', changed: 0, failed: 1 })
      const rows = await h.db.query<{ status: string; attempts: number; last_error: string }>('SELECT status, attempts, last_error FROM lora_ops.orphaned_instances')
      expect(rows).toEqual([{ status: 'failed', attempts: 3, last_error: 'the cluster still runs it after the cancel' }])
      await t.ctx.close()
    })

    it('lists artifacts unused for the period with size and storage cost, changing nothing', async () => {
      h = await daemonHarness(backend)
      const [job] = await h.db.query<{ id: string }>(`INSERT INTO training_jobs (user_id, dataset_id, status) VALUES ($1, $2, 'completed') RETURNING id`, [USER, h.datasetId])
      await h.db.query(
        `INSERT INTO model_artifacts (job_id, user_id, artifacts, created_at, last_used_at) VALUES ($1, $2, '{"lora_adapter_size": 1073741824}', $3, $3)`,
        [job!.id, USER, new Date(h.clock.now().getTime() - 200 * DAY)],
      )
      const report = await runTask(h.ctx, 'archival-review', { dryRun: false, yes: false })
      expect(report).toMatchObject({ changed: 0, summary: '1 artifact(s) unused for the period, 1.00 GB, $0.0210/month (report only: nothing changed)' })
      expect(report!.items).toEqual([expect.objectContaining({ job_id: job!.id, size_bytes: 1073741824, monthly_cost_usd: 0.021 })])
    })

    it('runs each periodic task once per slot across two daemons, and once after missed slots', async () => {
      h = await daemonHarness(backend)
      const log = memoryLog()
      const a = new Scheduler(SCHEDULE, 'daemon-a')
      const b = new Scheduler(SCHEDULE, 'daemon-b')
      h.clock.set('2026-03-10T12:30:00Z')
      const [ranA, ranB] = await Promise.all([a.runDue(h.ctx, log), b.runDue(h.ctx, log)])
      expect([...ranA, ...ranB].sort()).toEqual(['archival-review', 'costs-reconcile', 'daily-summary', 'notifications', 'orphans', 'reset-limits', 'uploads', 'validation-images'])
      // Within the same hour nothing is due again.
      h.clock.set('2026-03-10T12:59:00Z')
      expect([...(await a.runDue(h.ctx, log)), ...(await b.runDue(h.ctx, log))]).toEqual([])
      // Three hours later the hourly tasks run once, not once per missed hour.
      h.clock.set('2026-03-10T15:10:00Z')
      const later = [...(await a.runDue(h.ctx, log)), ...(await b.runDue(h.ctx, log))].sort()
      expect(later).toEqual(['orphans', 'uploads'])
      // Past 03:00 the next day, the daily ones too; on the 1st, the monthly ones.
      h.clock.set('2026-03-11T03:00:00Z')
      expect([...(await b.runDue(h.ctx, log)), ...(await a.runDue(h.ctx, log))].sort()).toEqual(['notifications', 'orphans', 'uploads', 'validation-images'])
      h.clock.set('2026-04-01T04:00:00Z')
      expect((await a.runDue(h.ctx, log)).sort()).toEqual(['archival-review', 'costs-reconcile', 'daily-summary', 'notifications', 'orphans', 'reset-limits', 'uploads', 'validation-images'])
      const runs = await h.db.query<{ task: string; last_status: string }>(`SELECT task, last_status FROM lora_ops.task_runs ORDER BY task`)
      expect(runs.every((r) => r.last_status === 'ok')).toBe(true)
    })
  })
}
