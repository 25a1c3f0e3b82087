import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { backends, type TestDb } from '../helpers/db.js'
import { testConfig, testContext } from '../helpers/context.js'
import { tempDir } from '../helpers/cli.js'
import { runHealth } from '../../src/health/run.js'
import { Options, run } from '../../commands/health.js'
import { optionIssueToError } from '../../src/cli.js'
import { FolderStorage } from '../../src/storage/folder.js'
import { BUCKETS, type Storage } from '../../src/storage/types.js'
import { FakeClock, systemClock } from '../../src/clock.js'
import { alertsConfig, type ResolvedConfig } from '../../src/config/schema.js'
import type { Db } from '../../src/db/types.js'
import { UsageError } from '../../src/errors.js'
import { FIXTURE_FAILURE_RATE, GiB, J, NOW, seedPlatform } from '../metrics/fixture.js'
import { collectMetrics } from '../../src/metrics/collect.js'
import { RULES } from '../../src/alerts/rules.js'

const MIN = 60_000

/** Storage with the buckets asked for, and only those. */
function bucketsStorage(present: string[]): Storage {
  return { bucketExists: async (b: string) => present.includes(b) } as unknown as Storage
}
const ALL_BUCKETS = [BUCKETS.datasets, BUCKETS.models, BUCKETS.validationImages]

/** A GPU cluster API that answers the health ping, or never answers at all. */
async function cluster(mode: 'ok' | 'hang'): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    if (mode === 'hang') return
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ jobs: [] }))
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: () => new Promise<void>((r) => {
      server.closeAllConnections()
      server.close(() => r())
    }),
  }
}

const statusOf = (report: Awaited<ReturnType<typeof runHealth>>) => Object.fromEntries(report.checks.map((c) => [c.name, c.status]))

for (const backend of backends) {
  describe.skipIf(!backend.available)(`lora health (${backend.name})`, () => {
    let db: TestDb
    beforeAll(async () => {
      db = await backend.open()
      await seedPlatform(db)
    })
    afterAll(async () => {
      await db?.close()
    })
    const cleanups: (() => Promise<void> | void)[] = []
    afterEach(async () => {
      for (const c of cleanups.splice(0).reverse()) await c()
    })
    const ctxFor = (config: ResolvedConfig, clock = new FakeClock(NOW), d: Db = db) => {
      const t = testContext({ db: d, config, clock })
      cleanups.push(() => t.ctx.close())
      return t
    }
    const noClusterChecks = ['database', 'schema', 'buckets', 'queue', 'failed-jobs', 'stuck-jobs', 'daemon', 'orphans', 'budget', 'storage']

    it('reports each check with its figure and threshold on the seeded platform', async () => {
      const base = testConfig()
      const t = ctxFor({ ...base, alerts: { ...alertsConfig(base), failureRate: FIXTURE_FAILURE_RATE } })
      const report = await runHealth(t.ctx, { checks: noClusterChecks, storage: bucketsStorage(ALL_BUCKETS) })
      expect(statusOf(report)).toEqual({
        database: 'ok',
        schema: 'ok',
        buckets: 'ok',
        queue: 'ok',
        'failed-jobs': 'critical',
        'stuck-jobs': 'warning',
        daemon: 'critical',
        orphans: 'ok',
        budget: 'ok',
        storage: 'ok',
      })
      expect(report.status).toBe('critical')
      expect(report.counts).toEqual({ ok: 7, warning: 1, critical: 2 })
      const by = Object.fromEntries(report.checks.map((c) => [c.name, c]))
      // The denominator of lora metrics' rates: the 3 jobs of 24 h that finished.
      expect(by['failed-jobs']).toMatchObject({ value: 66.67, unit: '%', threshold: { warning: 10, critical: 20 }, message: '2 failed of 3 finished, created in 24 h (66.7 %)' })
      expect(by.queue).toMatchObject({ value: 2, threshold: { warning: 50, critical: null }, message: '2 queued, 2 running' })
      expect(by.daemon!.message).toBe('no daemon has completed a cycle while 4 job(s) wait')
      expect(by.budget).toMatchObject({ value: 5.38, message: '$10.75 of $200.00 this month (5.4 %)' })
      expect(by.storage).toMatchObject({ value: 2.74, threshold: { warning: 80, critical: 100 } })
      expect(by.schema!.message).toMatch(/^version \d+, current$/)
    })

    it('rates failures over the denominator of lora metrics, as the failure-rate alert does: the jobs of 24 h that finished', async () => {
      const base = testConfig()
      const config = { ...base, alerts: { ...alertsConfig(base), failureRate: FIXTURE_FAILURE_RATE } }
      const metrics = (await collectMetrics({ db, config, now: NOW }, { sections: ['jobs'] })).jobs!.failure_rate
      const [check] = (await runHealth(ctxFor(config).ctx, { checks: ['failed-jobs'] })).checks
      const rule = RULES.find((r) => r.name === 'failure-rate')!
      const [alert] = (await rule.evaluate!({ db, config, alerts: config.alerts, now: NOW })).observations
      // 8 jobs created in 24 h; j1 completed, j3 and j4 failed, the rest have not finished.
      expect(metrics).toEqual({ value: 66.67, completed: 1, failed: 2, finished: 3, window: '24h' })
      expect(check).toMatchObject({ name: 'failed-jobs', status: 'critical', value: 66.67, message: '2 failed of 3 finished, created in 24 h (66.7 %)' })
      expect(alert).toMatchObject({ rule: 'failure-rate', severity: 'critical', value: 66.67, message: 'LoRA training failure rate is 66.7 % over 24 h: 2 of 3 finished jobs (threshold: 20 %).' })
    })

    it('moves each check to warning and critical at the profile thresholds', async () => {
      const tight = (budget: number, quotaGb: number, extra: Partial<ReturnType<typeof alertsConfig>> = {}): ResolvedConfig => {
        const base = testConfig({ budget: { monthlyUsd: budget, warnRatio: 0.75 }, storage: { kind: 'folder', dir: '/x', quotaBytes: quotaGb * GiB } })
        return { ...base, alerts: { ...alertsConfig(base), ...extra } }
      }
      const warn = await runHealth(ctxFor(tight(14, 3, { queueDepth: 1, failureRate: { warning: 0.5, critical: 0.7, minJobs: 3 } })).ctx, {
        checks: ['queue', 'failed-jobs', 'budget', 'storage', 'buckets'],
        storage: bucketsStorage([BUCKETS.datasets]),
      })
      expect(statusOf(warn)).toEqual({ buckets: 'critical', queue: 'warning', 'failed-jobs': 'warning', budget: 'warning', storage: 'warning' })
      expect(warn.checks.find((c) => c.name === 'buckets')!.message).toBe('missing: lora-models, lora-validation-images')
      const crit = await runHealth(ctxFor(tight(10, 2)).ctx, { checks: ['budget', 'storage'] })
      expect(statusOf(crit)).toEqual({ budget: 'critical', storage: 'critical' })
      const calm = await runHealth(ctxFor(tight(200, 100, { failureRate: { warning: 0.7, critical: 0.8, minJobs: 3 } })).ctx, { checks: ['failed-jobs'] })
      expect(statusOf(calm)).toEqual({ 'failed-jobs': 'ok' })
    })

    it('daemon: ok with a fresh heartbeat, warning when stale with nothing waiting; orphans warn, and are critical once cleanup failed', async () => {
      const d = db
      cleanups.push(async () => {
        await d.query('DELETE FROM lora_ops.daemon_heartbeats')
        await d.query('DELETE FROM lora_ops.orphaned_instances')
        await d.query(`UPDATE training_jobs SET status = 'queued' WHERE status = 'cancelled' AND id = ANY($1::uuid[])`, [[J.j7, J.j8]])
        await d.query(`UPDATE training_jobs SET status = 'running' WHERE status = 'cancelled' AND id = ANY($1::uuid[])`, [[J.j5, J.j6]])
      })
      // Nothing waiting: the daemon's silence is a warning, not critical.
      await d.query(`UPDATE training_jobs SET status = 'cancelled' WHERE id = ANY($1::uuid[])`, [[J.j5, J.j6, J.j7, J.j8]])
      await d.query(`INSERT INTO lora_ops.daemon_heartbeats (daemon_id, host, pid, version, last_cycle_at) VALUES ('d1', 'h', 1, '0', $1)`, [new Date(NOW.getTime() - 2 * MIN)])
      const fresh = await runHealth(ctxFor(testConfig(), new FakeClock(NOW), d).ctx, { checks: ['daemon', 'orphans'] })
      expect(fresh.checks.map((c) => [c.name, c.status, c.message])).toEqual([
        ['daemon', 'ok', 'last cycle 2 min ago, 1 daemon(s) running'],
        ['orphans', 'ok', 'no orphaned instance'],
      ])
      await d.query(`INSERT INTO lora_ops.orphaned_instances (cluster, external_job_id, reason, estimated_hourly_cost) VALUES ('primary', 'ext-1', 'finished', 3.5)`)
      const later = new FakeClock(NOW.getTime() + 30 * MIN)
      const stale = await runHealth(ctxFor(testConfig(), later, d).ctx, { checks: ['daemon', 'orphans'] })
      expect(stale.checks.map((c) => [c.name, c.status, c.message])).toEqual([
        ['daemon', 'warning', 'no daemon cycle for 32 min (no jobs waiting)'],
        ['orphans', 'warning', '1 orphaned instance(s) awaiting cleanup, about $3.50/h'],
      ])
      await d.query(`UPDATE lora_ops.orphaned_instances SET status = 'failed', attempts = 3`)
      expect(statusOf(await runHealth(ctxFor(testConfig(), later, d).ctx, { checks: ['orphans'] }))).toEqual({ orphans: 'critical' })
    })

    it('checks each GPU cluster (reachable, breaker) and cuts one that hangs at its timeout, the others unaffected', async () => {
      const ok = await cluster('ok')
      const hang = await cluster('hang')
      cleanups.push(() => ok.close(), () => hang.close())
      const config = testConfig({
        clusters: [
          { name: 'primary', url: ok.url, connectTimeoutMs: 2_000, requestTimeoutMs: 30_000 },
          { name: 'stuck', url: hang.url, connectTimeoutMs: 2_000, requestTimeoutMs: 30_000 },
        ],
      })
      // The hung call is cut by the check's own timeout (on the injected clock), not by
      // the client's 30 s: once the other checks are done, only its timer is left.
      const clock = new FakeClock(NOW)
      const t = ctxFor(config, clock)
      const pending = runHealth(t.ctx, { checks: ['cluster', 'database', 'queue'], timeoutMs: 5_000 })
      const started = Date.now()
      while (clock.pending !== 1) {
        if (Date.now() - started > 10_000) throw new Error(`still ${clock.pending} checks pending`)
        await new Promise((r) => setTimeout(r, 10))
      }
      // Give the finished checks a moment to have been counted, then cut the last one.
      await new Promise((r) => setTimeout(r, 20))
      expect(clock.pending).toBe(1)
      clock.advance(5_000)
      const report = await pending
      expect(report.checks.map((c) => [c.name, c.status])).toEqual([
        ['database', 'ok'],
        ['cluster:primary', 'ok'],
        ['cluster:stuck', 'critical'],
        ['queue', 'ok'],
      ])
      expect(report.checks.find((c) => c.name === 'cluster:stuck')!.message).toBe('no answer within 5s')
      expect(report.checks.find((c) => c.name === 'cluster:primary')!.message).toMatch(/^reachable in \d+ ms; breaker closed$/)

      await db.query(`INSERT INTO lora_ops.circuit_breakers (cluster, state, open_until) VALUES ('primary', 'open', $1)`, [new Date(Date.now() + 600_000)])
      cleanups.push(() => void db.query(`DELETE FROM lora_ops.circuit_breakers`))
      const open = await runHealth(ctxFor(config, systemClock as unknown as FakeClock).ctx, { checks: ['cluster:primary'], timeoutMs: 10_000 })
      expect(open.checks.map((c) => [c.name, c.status])).toEqual([['cluster:primary', 'critical']])
      expect(open.checks[0]!.message).toMatch(/; breaker open until /)
    })

    it('a database that never answers is cut by the timeout, check by check', async () => {
      const hung: Db = {
        kind: 'postgres',
        query: () => new Promise(() => {}),
        transaction: () => new Promise(() => {}),
        exec: () => new Promise(() => {}),
        listen: async () => null,
        notify: async () => {},
        close: async () => {},
      }
      const clock = new FakeClock(NOW)
      const t = ctxFor(testConfig(), clock, hung)
      const pending = runHealth(t.ctx, { checks: ['database', 'queue', 'storage'], timeoutMs: 5_000 })
      // Each check's timeout is waiting on the clock before the clock moves: an event, not a pause.
      await vi.waitFor(() => expect(clock.pending).toBe(3), { timeout: 10_000, interval: 5 })
      clock.advance(5_000)
      const report = await pending
      expect(report.checks.map((c) => [c.name, c.status, c.message])).toEqual([
        ['database', 'critical', 'no answer within 5s'],
        ['queue', 'critical', 'no answer within 5s'],
        ['storage', 'critical', 'no answer within 5s'],
      ])
    })

    it('the command: a stable --json report, and exit 0 or 1 by --fail-on', async () => {
      const dir = tempDir('lora-health-')
      cleanups.push(() => dir.remove())
      const storage = new FolderStorage(dir.path, new FakeClock(NOW))
      for (const b of ALL_BUCKETS) await storage.ensureBucket(b)
      const config = testConfig({ storage: { kind: 'folder', dir: dir.path, quotaBytes: 100 * GiB } })
      const checks = 'database,schema,buckets,queue,stuck-jobs,orphans,budget,storage'
      const t = ctxFor(config)
      expect(await run(Options.parse({ check: checks, json: true }), t.ctx)).toBe(0)
      const report = JSON.parse(t.stdout())
      expect(Object.keys(report)).toEqual(['status', 'checked_at', 'duration_ms', 'counts', 'checks', 'fail_on', 'exit_code'])
      expect(report).toMatchObject({ status: 'warning', checked_at: NOW.toISOString(), fail_on: 'critical', exit_code: 0, counts: { ok: 7, warning: 1, critical: 0 } })
      expect(Object.keys(report.checks[0])).toEqual(['name', 'status', 'message', 'value', 'unit', 'threshold', 'duration_ms'])
      expect(report.checks.find((c: { name: string }) => c.name === 'buckets')).toMatchObject({ status: 'ok', value: 0 })

      const strict = ctxFor(config)
      expect(await run(Options.parse({ check: checks, failOn: 'warning', json: false }), strict.ctx)).toBe(1)
      expect(strict.stdout().split('\n')[0]).toBe('check\tstatus\tvalue\tthreshold\tmessage')
      expect(strict.stdout()).toContain('stuck-jobs\twarning\t1 job\twarn 0\t')
      expect(strict.stderr()).toMatch(/^health: warning \(7 ok, 1 warning, 0 critical\); exit 1 with --fail-on warning\n$/)

      const failing = ctxFor({ ...config, alerts: { ...alertsConfig(config), failureRate: FIXTURE_FAILURE_RATE } })
      expect(await run(Options.parse({ check: 'failed-jobs', json: false }), failing.ctx)).toBe(1)
    })

    it('refuses an unknown check or --fail-on level, a bad --timeout: one sentence, exit 2', async () => {
      const t = ctxFor(testConfig())
      const unknown = await run(Options.parse({ check: 'database,nonsense', json: false }), t.ctx).catch((e: unknown) => e)
      expect(unknown).toBeInstanceOf(UsageError)
      expect((unknown as UsageError).message).toBe('Unknown check "nonsense" (checks: database, schema, buckets, cluster, queue, failed-jobs, stuck-jobs, daemon, orphans, budget, storage, cluster:NAME).')
      expect((unknown as UsageError).exitCode).toBe(2)
      const cluster = await runHealth(t.ctx, { checks: ['cluster:nope'] }).catch((e: unknown) => e)
      expect((cluster as UsageError).message).toBe('Unknown check "cluster:nope": no GPU cluster is named "nope".')
      expect(t.stdout()).toBe('')
      const failOn = Options.safeParse({ failOn: 'sometimes', json: false })
      expect(failOn.success).toBe(false)
      expect(optionIssueToError(failOn.error!.issues).message).toBe('Invalid --fail-on: expected warning or critical, got "sometimes".')
      const timeout = Options.safeParse({ timeout: 'forever', json: false })
      expect(optionIssueToError(timeout.error!.issues).message).toBe('Invalid --timeout: expected a duration from 100ms to 5m such as 2s, 10m or 7d (got "forever").')
    })
  })
}
