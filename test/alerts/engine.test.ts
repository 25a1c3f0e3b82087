import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest'
import { backends, type TestDb } from '../helpers/db.js'
import { testContext } from '../helpers/context.js'
import { dailySummary, evaluateAlerts, raiseAlert, resolveAlert, PUSHED_QUIET_MS } from '../../src/alerts/engine.js'
import { silenceAlert } from '../../src/alerts/manage.js'
import { fingerprintOf } from '../../src/alerts/state.js'
import type { AlertsConfig, ResolvedConfig } from '../../src/config/schema.js'
import type { Db } from '../../src/db/types.js'
import { FIXTURE_FAILURE_RATE, GiB, J, NOW, seedPlatform } from '../metrics/fixture.js'
import { AutoClock, configWithAlerts, startReceiver, type Receiver } from './helpers.js'

const MIN = 60_000
const H = 60 * MIN

interface Hook {
  event: string
  alert: { rule: string; subject: string; severity: string; status: string; previous_severity: string | null }
  details?: Record<string, unknown>
}

for (const backend of backends) {
  describe.skipIf(!backend.available)(`the alert engine (${backend.name})`, () => {
    let hook: Receiver
    let db: TestDb
    beforeAll(async () => {
      hook = await startReceiver()
      db = await backend.open()
      await seedPlatform(db)
    })
    afterAll(async () => {
      await hook.close()
      await db?.close()
    })
    beforeEach(async () => {
      // Every test starts from the seeded platform with no alert state (one database per
      // backend: cloning one per test would cost more than the tests).
      await db.query(
        'TRUNCATE lora_ops.alert_state, lora_ops.alert_silences, lora_ops.audit_log, lora_ops.circuit_breakers, lora_ops.orphaned_instances, lora_ops.daemon_heartbeats',
      )
      await db.query(`UPDATE training_jobs SET status = 'queued' WHERE id = ANY($1::uuid[])`, [[J.j7, J.j8]])
    })
    afterEach(() => {
      hook.requests.length = 0
    })

    /** The seeded platform plus an open breaker, two orphans (one cleaned) and no daemon heartbeat. */
    async function platform(): Promise<TestDb> {
      await db.query(
        `INSERT INTO lora_ops.circuit_breakers (cluster, state, opened_at, open_until, last_error) VALUES ('primary', 'open', $1, $2, '503 from the cluster')`,
        [new Date(NOW.getTime() - 10 * MIN), new Date(NOW.getTime() + 20 * MIN)],
      )
      await db.query(
        `INSERT INTO lora_ops.orphaned_instances (cluster, external_job_id, reason, status, estimated_hourly_cost) VALUES
           ('primary', 'ext-1', 'job finished', 'detected', 3.5), ('primary', 'ext-2', 'job finished', 'cleaned', 3.5)`,
      )
      return db
    }
    const config = (alerts: Partial<AlertsConfig> = {}, base: Partial<ResolvedConfig> = {}) =>
      configWithAlerts({ failureRate: FIXTURE_FAILURE_RATE, sinks: { webhook: { url: hook.url, minSeverity: 'info' } }, ...alerts }, base)
    const context = (d: Db, clock: AutoClock, c: ResolvedConfig = config()) => testContext({ db: d, clock, config: c })
    const events = () => hook.requests.map((r) => r.json as Hook).map((h) => `${h.event} ${h.alert.rule}${h.alert.subject ? `/${h.alert.subject}` : ''} ${h.alert.severity}`)

    it('evaluates every rule from the database and notifies each new alert once, to the log and every sink', async () => {
      const d = await platform()
      const clock = new AutoClock(NOW)
      const t = context(d, clock)
      const result = await evaluateAlerts(t.ctx)
      expect(result.errors).toEqual([])
      expect(result.alerts.map((a) => [a.rule, a.subject, a.severity, a.status, a.notify])).toEqual([
        ['breaker-open', 'primary', 'critical', 'firing', 'fired'],
        ['failure-rate', '', 'critical', 'firing', 'fired'],
        ['worker-down', '', 'critical', 'firing', 'fired'],
        ['orphaned-instances', 'primary/ext-1', 'warning', 'firing', 'fired'],
        ['stuck-jobs', J.j5, 'warning', 'firing', 'fired'],
        ['training-timeout', '', 'warning', 'firing', 'fired'],
      ])
      expect(result).toMatchObject({ firing: 6, pending: 0, notified: { fired: 6, repeated: 0, resolved: 0 }, silenced: 0 })
      expect(result.alerts.find((a) => a.rule === 'failure-rate')!.message).toBe('LoRA training failure rate is 66.7 % over 24 h: 2 of 3 finished jobs (threshold: 20 %).')
      expect(result.alerts.find((a) => a.rule === 'worker-down')!.message).toBe('No daemon has ever completed a cycle while 4 jobs wait (2 queued).')
      expect(result.alerts.find((a) => a.rule === 'stuck-jobs')).toMatchObject({ value: 4, threshold: 2 })
      expect(events().sort()).toEqual([
        'alert.fired breaker-open/primary critical',
        'alert.fired failure-rate critical',
        `alert.fired orphaned-instances/primary/ext-1 warning`,
        `alert.fired stuck-jobs/${J.j5} warning`,
        'alert.fired training-timeout warning',
        'alert.fired worker-down critical',
      ])
      // The log sink: one JSON line per notification on stderr.
      const logged = t.stderr().trim().split('\n').map((l) => JSON.parse(l) as { level: string; event: string; rule: string })
      expect(logged.filter((l) => l.event === 'alert.fired').map((l) => `${l.level} ${l.rule}`).sort()).toEqual([
        'error breaker-open', 'error failure-rate', 'error worker-down', 'warn orphaned-instances', 'warn stuck-jobs', 'warn training-timeout',
      ])
      const [row] = await d.query<{ n: number }>(`SELECT count(*)::int AS n FROM lora_ops.alert_state WHERE status = 'firing'`)
      expect(row!.n).toBe(6)
    })

    it('repeats at the interval while firing, resolves when the condition ends, and does nothing twice after a restart', async () => {
      const d = await platform()
      const clock = new AutoClock(NOW)
      await evaluateAlerts(context(d, clock).ctx)
      hook.requests.length = 0
      clock.advance(1 * H)
      expect((await evaluateAlerts(context(d, clock).ctx)).notified).toEqual({ fired: 0, repeated: 0, resolved: 0 })
      clock.advance(3 * H) // 4 h after firing
      // Everything repeats; j6, running for 4.5 h now, is a new stuck job.
      const repeated = await evaluateAlerts(context(d, clock).ctx)
      expect(repeated.notified).toEqual({ fired: 1, repeated: 6, resolved: 0 })
      expect(repeated.alerts.find((a) => a.notify === 'fired')).toMatchObject({ rule: 'stuck-jobs', subject: J.j6 })
      // A restarted evaluator (a new process: a new context on the same database) sends nothing again.
      expect((await evaluateAlerts(context(d, clock).ctx)).notified).toEqual({ fired: 0, repeated: 0, resolved: 0 })
      expect(hook.requests).toHaveLength(7)
      hook.requests.length = 0

      await d.query(`UPDATE lora_ops.circuit_breakers SET state = 'closed', open_until = NULL`)
      await d.query(`UPDATE lora_ops.orphaned_instances SET status = 'cleaned'`)
      const resolved = await evaluateAlerts(context(d, clock).ctx)
      expect(resolved.notified).toEqual({ fired: 0, repeated: 0, resolved: 2 })
      expect(events().sort()).toEqual(['alert.resolved breaker-open/primary critical', 'alert.resolved orphaned-instances/primary/ext-1 warning'])
      expect(resolved.alerts.filter((a) => a.status === 'resolved').map((a) => a.rule).sort()).toEqual(['breaker-open', 'orphaned-instances'])
      expect(resolved.firing).toBe(5)
    })

    it('two evaluators at the same moment notify each alert once between them', async () => {
      const d = await platform()
      const other = d.connectAgain ? await d.connectAgain() : d
      const clock = new AutoClock(NOW)
      const [a, b] = await Promise.all([evaluateAlerts(context(d, clock).ctx), evaluateAlerts(context(other, clock).ctx)])
      expect(a.notified.fired + b.notified.fired).toBe(6)
      expect(hook.requests).toHaveLength(6)
      expect(new Set(events()).size).toBe(6)
    })

    it('a silence holds back a rule; the alert is announced once the silence ends', async () => {
      const d = await platform()
      const clock = new AutoClock(NOW)
      const t = context(d, clock)
      await silenceAlert(t.ctx, { rule: 'failure-rate', forMs: 2 * H, reason: 'deploying a fix' })
      await silenceAlert(t.ctx, { rule: 'stuck-jobs', subject: 'some-other-job', forMs: 2 * H })
      const first = await evaluateAlerts(t.ctx)
      expect(first).toMatchObject({ firing: 6, silenced: 1, notified: { fired: 5, repeated: 0, resolved: 0 } })
      expect(first.alerts.find((a) => a.rule === 'failure-rate')).toMatchObject({ status: 'firing', silenced: true, notify: null })
      expect(events()).not.toContain('alert.fired failure-rate critical')
      hook.requests.length = 0
      clock.advance(2 * H + MIN)
      const after = await evaluateAlerts(context(d, clock).ctx)
      // failure-rate is announced now; j6 (2.5 h running by now) is newly stuck; the rest waits for its repeat.
      expect(after.notified).toEqual({ fired: 2, repeated: 0, resolved: 0 })
      expect(events().sort()).toEqual(['alert.fired failure-rate critical', `alert.fired stuck-jobs/${J.j6} warning`])
      const [audit] = await d.query<{ action: string; target: string }>(`SELECT action, target FROM lora_ops.audit_log ORDER BY id LIMIT 1`)
      expect(audit).toEqual({ action: 'alerts.silence', target: 'failure-rate' })
    })

    it('holds the queue-depth alert pending for alerts.queueFor, then fires; resolves when the queue drains', async () => {
      const d = await platform()
      const clock = new AutoClock(NOW)
      const c = config({ queueDepth: 1 })
      const pending = await evaluateAlerts(context(d, clock, c).ctx)
      expect(pending.alerts.find((a) => a.rule === 'queue-depth')).toMatchObject({ status: 'pending', notify: null, since: NOW })
      clock.advance(29 * MIN)
      expect((await evaluateAlerts(context(d, clock, c).ctx)).alerts.find((a) => a.rule === 'queue-depth')!.status).toBe('pending')
      clock.advance(1 * MIN)
      hook.requests.length = 0
      const fired = await evaluateAlerts(context(d, clock, c).ctx)
      expect(fired.alerts.find((a) => a.rule === 'queue-depth')).toMatchObject({ status: 'firing', notify: 'fired', value: 2, threshold: 1 })
      expect(events()).toEqual(['alert.fired queue-depth critical'])
      await d.query(`UPDATE training_jobs SET status = 'cancelled' WHERE status = 'queued'`)
      const drained = await evaluateAlerts(context(d, clock, c).ctx)
      expect(drained.alerts.find((a) => a.rule === 'queue-depth')).toMatchObject({ status: 'resolved', notify: 'resolved' })
    })

    it('fires the cost, spend, storage and validation rules at the profile thresholds, and escalates', async () => {
      const d = await platform()
      const clock = new AutoClock(NOW)
      const c = config(
        { avgCostPerJob: 2, slowValidationMs: 3 * MIN },
        { budget: { monthlyUsd: 14, warnRatio: 0.75 }, storage: { kind: 'folder', dir: '/x', quotaBytes: 3 * GiB } },
      )
      const r = await evaluateAlerts(context(d, clock, c).ctx)
      const by = Object.fromEntries(r.alerts.map((a) => [a.rule, a]))
      // 8.75 over 4 jobs in 7 days.
      expect(by['cost-per-job']).toMatchObject({ severity: 'warning', value: 2.19, threshold: 2 })
      // 10.75 of 14 is 77 %.
      expect(by['monthly-spend']).toMatchObject({ severity: 'warning', value: 10.75, threshold: 10.5 })
      expect(by['monthly-spend']!.message).toBe('System-wide LoRA training costs are $10.75 this month (77 % of the $14.00 monthly budget).')
      // 2.74 GiB of 3 GiB.
      expect(by['storage-quota']).toMatchObject({ severity: 'warning', value: 91.47, threshold: 80 })
      // d1, the one dataset validated in 24 h, took 4 minutes.
      expect(by['slow-validation']).toMatchObject({ severity: 'warning', value: 4, threshold: 3 })

      hook.requests.length = 0
      clock.advance(10 * MIN)
      const tighter = config({ avgCostPerJob: 2, slowValidationMs: 3 * MIN }, { budget: { monthlyUsd: 10, warnRatio: 0.75 }, storage: { kind: 'folder', dir: '/x', quotaBytes: 2 * GiB } })
      const escalated = await evaluateAlerts(context(d, clock, tighter).ctx)
      expect(escalated.notified).toEqual({ fired: 2, repeated: 0, resolved: 0 })
      const hooks = hook.requests.map((q) => q.json as Hook)
      expect(hooks.map((h) => [h.alert.rule, h.alert.severity, h.alert.previous_severity]).sort()).toEqual([
        ['monthly-spend', 'critical', 'warning'],
        ['storage-quota', 'critical', 'warning'],
      ])
    })

    it('--dry-run decides without writing state or notifying', async () => {
      const d = await platform()
      const clock = new AutoClock(NOW)
      const dry = await evaluateAlerts(context(d, clock).ctx, { dryRun: true })
      expect(dry).toMatchObject({ dryRun: true, firing: 6, notified: { fired: 6, repeated: 0, resolved: 0 }, deliveries: [] })
      expect(hook.requests).toHaveLength(0)
      const [row] = await d.query<{ n: number }>('SELECT count(*)::int AS n FROM lora_ops.alert_state')
      expect(row!.n).toBe(0)
    })

    it('keeps evaluating the other rules when one cannot be read, leaving its alert as it was', async () => {
      const d = await platform()
      const clock = new AutoClock(NOW)
      await evaluateAlerts(context(d, clock).ctx)
      await d.query('ALTER TABLE lora_ops.orphaned_instances RENAME TO orphans_elsewhere')
      try {
        await d.query(`UPDATE lora_ops.circuit_breakers SET state = 'closed'`)
        const r = await evaluateAlerts(context(d, clock).ctx)
        expect(r.errors.map((e) => e.rule)).toEqual(['orphaned-instances'])
        expect(r.alerts.find((a) => a.rule === 'orphaned-instances')).toMatchObject({ status: 'firing' })
        expect(r.alerts.find((a) => a.rule === 'breaker-open')).toMatchObject({ status: 'resolved', notify: 'resolved' })
      } finally {
        await d.query('ALTER TABLE lora_ops.orphans_elsewhere RENAME TO orphaned_instances')
      }
    })

    it('raiseAlert: fires once, repeats at the interval, resolves when no longer raised or by resolveAlert', async () => {
      const d = await platform()
      const clock = new AutoClock(NOW)
      const t = context(d, clock)
      const raise = () => raiseAlert(t.ctx, { rule: 'orphan-cleanup-failed', subject: 'primary/ext-9', severity: 'critical', message: 'Cleanup of ext-9 failed after 3 attempts.' })
      expect(await raise()).toMatchObject({ notified: 'fired', stored: true, fingerprint: fingerprintOf('orphan-cleanup-failed', 'primary/ext-9') })
      clock.advance(10 * MIN)
      expect(await raise()).toMatchObject({ notified: null, stored: true })
      expect(t.stderr()).toContain('alert orphan-cleanup-failed (primary/ext-9) raised again: Cleanup of ext-9 failed after 3 attempts.')
      clock.advance(4 * H)
      expect((await raise()).notified).toBe('repeated')
      expect(events()).toEqual(['alert.fired orphan-cleanup-failed/primary/ext-9 critical', 'alert.fired orphan-cleanup-failed/primary/ext-9 critical'].map((e, i) => (i ? e.replace('fired', 'repeated') : e)))
      // Not raised for an hour: the next evaluation resolves it.
      clock.advance(PUSHED_QUIET_MS - MIN)
      expect((await evaluateAlerts(context(d, clock).ctx)).alerts.find((a) => a.rule === 'orphan-cleanup-failed')!.status).toBe('firing')
      clock.advance(MIN)
      expect((await evaluateAlerts(context(d, clock).ctx)).alerts.find((a) => a.rule === 'orphan-cleanup-failed')).toMatchObject({ status: 'resolved', notify: 'resolved' })

      await raiseAlert(t.ctx, { rule: 'database-errors', severity: 'critical', message: 'connection refused' })
      expect(await resolveAlert(t.ctx, { rule: 'database-errors' })).toMatchObject({ resolved: true })
      expect(events().slice(-2)).toEqual(['alert.fired database-errors critical', 'alert.resolved database-errors critical'])
    })

    it('raiseAlert with the database down still logs and notifies, once per repeat interval in this process', async () => {
      const down: Db = {
        kind: 'postgres',
        query: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432')),
        transaction: () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432')),
        exec: () => Promise.reject(new Error('down')),
        listen: async () => null,
        notify: async () => {},
        close: async () => {},
      }
      const clock = new AutoClock(NOW)
      const t = context(down, clock)
      const alert = { rule: 'database-errors', severity: 'critical' as const, message: 'The daemon cannot reach the database: connection refused.' }
      expect(await raiseAlert(t.ctx, alert)).toMatchObject({ notified: 'fired', stored: false })
      clock.advance(MIN)
      expect(await raiseAlert(t.ctx, alert)).toMatchObject({ notified: null, stored: false })
      clock.advance(4 * H)
      expect(await raiseAlert(t.ctx, alert)).toMatchObject({ notified: 'repeated', stored: false })
      expect(events()).toEqual(['alert.fired database-errors critical', 'alert.repeated database-errors critical'])
      const lines = t.stderr().trim().split('\n').map((l) => JSON.parse(l) as { msg: string })
      expect(lines.filter((l) => l.msg.includes('The daemon cannot reach the database'))).toHaveLength(3)
    })

    it('an alert notified from memory during an outage resolves once the database is back: memory reconciled with alert_state', async () => {
      let up = true
      const down = () => Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:5432'))
      const flaky: Db = {
        ...db,
        query: ((sql: string, params?: unknown[]) => (up ? db.query(sql, params) : down())) as Db['query'],
        transaction: ((fn: never) => (up ? db.transaction(fn) : down())) as Db['transaction'],
      }
      const clock = new AutoClock(NOW)
      const t = context(flaky, clock)
      await t.ctx.db()
      up = false
      const alert = { rule: 'database-errors', severity: 'critical' as const, message: 'The daemon cannot reach the database: connection refused.' }
      expect(await raiseAlert(t.ctx, alert)).toMatchObject({ notified: 'fired', stored: false })
      clock.advance(MIN)
      expect(await raiseAlert(t.ctx, alert)).toMatchObject({ notified: null, stored: false })
      // Still down: resolving fails and keeps what it must resolve.
      await expect(resolveAlert(t.ctx, { rule: 'database-errors' })).rejects.toThrow('ECONNREFUSED')
      up = true
      clock.advance(30 * MIN)
      expect(await resolveAlert(t.ctx, { rule: 'database-errors' })).toMatchObject({ resolved: true })
      expect(events()).toEqual(['alert.fired database-errors critical', 'alert.resolved database-errors critical'])
      const resolved = hook.requests.at(-1)!.json as Hook & { alert: { message: string; starts_at: string } }
      expect(resolved.alert.message).toBe("the daemon's cycles succeed again since 12:31 UTC, after 31m of failures")
      expect(resolved.alert.starts_at).toBe(NOW.toISOString())
      const rows = await db.query<{ status: string; first_fired_at: Date; resolved_at: Date }>(`SELECT status, first_fired_at, resolved_at FROM lora_ops.alert_state WHERE rule = 'database-errors'`)
      expect(rows).toEqual([{ status: 'resolved', first_fired_at: NOW, resolved_at: clock.now() }])
      // Reconciled once: nothing more to resolve.
      expect(await resolveAlert(t.ctx, { rule: 'database-errors' })).toMatchObject({ resolved: false })

      // Announced from memory, then stored when the database answers again: not announced twice.
      up = false
      clock.advance(H)
      expect(await raiseAlert(t.ctx, alert)).toMatchObject({ notified: 'fired', stored: false })
      up = true
      expect(await raiseAlert(t.ctx, alert)).toMatchObject({ notified: null, stored: true })
      expect(await resolveAlert(t.ctx, { rule: 'database-errors' })).toMatchObject({ resolved: true })
      expect(events().slice(2)).toEqual(['alert.fired database-errors critical', 'alert.resolved database-errors critical'])
    })

    it('the daily summary goes to the sinks that take info', async () => {
      const d = await platform()
      const clock = new AutoClock(NOW)
      const { summary, text } = await dailySummary(context(d, clock).ctx)
      expect(summary).toMatchObject({ date: '2026-01-14', jobs_completed: 1, jobs_failed: 1 })
      const [request] = hook.requests
      expect(request!.json).toMatchObject({ event: 'alert.summary', alert: { rule: 'daily-summary', subject: '2026-01-14', severity: 'info' }, details: { jobs_completed: 1, new_users: 1 } })
      expect((request!.json as { alert: { message: string } }).alert.message).toBe(text)
    })
  })
}
