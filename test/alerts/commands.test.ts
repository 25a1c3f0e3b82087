import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { backends, type TestDb } from '../helpers/db.js'
import { testConfig, testContext } from '../helpers/context.js'
import { optionIssueToError } from '../../src/cli.js'
import { UsageError } from '../../src/errors.js'
import * as list from '../../commands/alerts-list.js'
import * as silence from '../../commands/alerts-silence.js'
import * as test from '../../commands/alerts-test.js'
import * as evaluate from '../../commands/alerts-evaluate.js'
import type { CommandModule } from '../../commands/registry.js'
import { FIXTURE_FAILURE_RATE, NOW, seedPlatform } from '../metrics/fixture.js'
import { AutoClock, configWithAlerts, startReceiver, type Receiver } from './helpers.js'

const H = 3_600_000

function refusal(schema: CommandModule['Options'], input: Record<string, unknown>): string | null {
  const parsed = schema.safeParse({ json: false, ...input })
  return parsed.success ? null : optionIssueToError(parsed.error.issues).message
}

// The commands on one backend (the server when there is one); the engine runs on both in engine.test.ts.
const backend = backends.find((b) => b.name === 'postgres' && b.available) ?? backends[0]!

describe(`lora alerts list | silence | test | evaluate (${backend.name})`, () => {
  let db: TestDb
  let hook: Receiver
  beforeAll(async () => {
    hook = await startReceiver()
  })
  afterAll(async () => {
    await hook.close()
  })
  afterEach(async () => {
    await db?.close()
    hook.requests.length = 0
    hook.respond({ status: 200, body: 'ok' })
  })
  const open = async () => {
    db = await backend.open()
    await seedPlatform(db)
    return db
  }

  it('evaluate, then list: the firing alerts and the silences, as tables or --json', async () => {
    await open()
    const clock = new AutoClock(NOW)
    const e = testContext({ db, clock, config: configWithAlerts({ failureRate: FIXTURE_FAILURE_RATE }) })
    expect(await evaluate.run(evaluate.Options.parse({ json: false }), e.ctx)).toBe(0)
    expect(e.stdout().split('\n')[0]).toBe('status\tseverity\trule\tsubject\tnotified\tmessage')
    expect(e.stdout()).toContain('firing\tcritical\tfailure-rate\t\tfired\tLoRA training failure rate is 66.7 %')
    expect(e.stderr().trim().split('\n').at(-1)).toBe('4 firing, 0 pending; notified 4 fired, 0 repeated, 0 resolved; 0 silenced')

    const s = testContext({ db, clock, env: { LORA_ACTOR: 'oncall@test' } })
    expect(await silence.run(silence.Options.parse({ args: 'stuck-jobs', for: '2h', reason: 'known slow job', json: false }), s.ctx)).toBe(0)
    expect(s.stdout()).toBe(`silenced stuck-jobs until ${new Date(NOW.getTime() + 2 * H).toISOString()} (2h)\n`)

    const l = testContext({ db, clock })
    expect(await list.run(list.Options.parse({ json: true }), l.ctx)).toBe(0)
    const listing = JSON.parse(l.stdout())
    expect(Object.keys(listing)).toEqual(['alerts', 'silences'])
    expect(listing.alerts.map((a: { rule: string; status: string }) => `${a.status} ${a.rule}`)).toEqual([
      'firing failure-rate',
      'firing worker-down',
      'firing stuck-jobs',
      'firing training-timeout',
    ])
    expect(Object.keys(listing.alerts[0])).toEqual([
      'fingerprint', 'rule', 'subject', 'severity', 'status', 'message', 'value', 'threshold', 'pending_since',
      'first_fired_at', 'last_notified_at', 'resolved_at', 'silenced_until', 'source',
    ])
    expect(listing.alerts.find((a: { rule: string }) => a.rule === 'stuck-jobs').silenced_until).toBe(new Date(NOW.getTime() + 2 * H).toISOString())
    expect(listing.silences).toEqual([
      expect.objectContaining({ rule: 'stuck-jobs', subject: null, reason: 'known slow job', created_by: 'oncall@test', until: new Date(NOW.getTime() + 2 * H).toISOString() }),
    ])
    const human = testContext({ db, clock })
    await list.run(list.Options.parse({ json: false }), human.ctx)
    expect(human.stdout()).toContain('firing (silenced)\twarning\tstuck-jobs')
    expect(human.stderr()).toBe('4 firing, 0 pending, 1 silence(s) in force\n')
  })

  it('evaluate --dry-run --json shows what would be notified and changes nothing', async () => {
    await open()
    const t = testContext({ db, clock: new AutoClock(NOW), config: configWithAlerts({ failureRate: FIXTURE_FAILURE_RATE, sinks: { webhook: { url: hook.url, minSeverity: 'info' } } }) })
    expect(await evaluate.run(evaluate.Options.parse({ dryRun: true, json: true }), t.ctx)).toBe(0)
    const out = JSON.parse(t.stdout())
    expect(Object.keys(out)).toEqual(['dry_run', 'evaluated_at', 'firing', 'pending', 'notified', 'silenced', 'alerts', 'errors', 'deliveries'])
    expect(out).toMatchObject({ dry_run: true, firing: 4, notified: { fired: 4, repeated: 0, resolved: 0 }, deliveries: [] })
    expect(hook.requests).toHaveLength(0)
    expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM lora_ops.alert_state'))[0]!.n).toBe(0)
  })

  it('silence refuses an unknown rule, a bad --for: one sentence, exit 2, nothing written', async () => {
    await open()
    const t = testContext({ db, clock: new AutoClock(NOW) })
    const error = await silence.run(silence.Options.parse({ args: 'stuck-job', for: '2h', json: false }), t.ctx).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(UsageError)
    expect((error as UsageError).exitCode).toBe(2)
    expect((error as UsageError).message).toMatch(/^Unknown alert rule "stuck-job" \(rules: artifact-upload-failed, breaker-open, cost-drift, cost-overrun, cost-per-job, daily-summary, database-errors, failure-rate, monthly-spend, orphan-cleanup-failed, orphaned-instances, queue-depth, slow-validation, storage-quota, stuck-jobs, training-timeout, worker-down\)\.$/)
    const tooLong = await silence.run(silence.Options.parse({ args: 'stuck-jobs', for: '90d', json: false }), t.ctx).catch((e: unknown) => e)
    expect((tooLong as UsageError).message).toBe('A silence lasts from 1s to 30d, not 90d.')
    expect((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM lora_ops.alert_silences'))[0]!.n).toBe(0)
    expect(t.stdout()).toBe('')
    expect(refusal(silence.Options, { args: 'stuck-jobs', for: 'a while' })).toBe('Invalid --for: expected a duration such as 2s, 10m or 7d (got "a while").')
    expect(refusal(silence.Options, { args: 'stuck-jobs' })).toBe('Invalid --for: required: how long, such as 2h.')
    // A rule the daemon raised (not in the catalogue) may be silenced once it has been seen.
    await db.query(`INSERT INTO lora_ops.alert_state (fingerprint, rule, subject, severity, status, message, first_fired_at, source) VALUES ('x', 'daemon-custom', '', 'warning', 'firing', 'm', now(), 'pushed')`)
    expect(await silence.run(silence.Options.parse({ args: 'daemon-custom', for: '1h', json: true }), t.ctx)).toBe(0)
  })

  it('test sends a test alert to a configured sink: exit 0 when it gets through, 1 when it does not, 2 when not configured', async () => {
    await open()
    const config = configWithAlerts({ failureRate: FIXTURE_FAILURE_RATE, sinks: { webhook: { url: hook.url, minSeverity: 'critical' } } })
    const ok = testContext({ db, clock: new AutoClock(NOW), config })
    expect(await test.run(test.Options.parse({ args: 'webhook', json: false }), ok.ctx)).toBe(0)
    expect(ok.stdout()).toBe('test alert sent to webhook (HTTP 200, 1 attempt)\n')
    expect(hook.requests.map((r) => (r.json as { event: string }).event)).toEqual(['alert.test'])

    hook.respond({ status: 503, body: 'down' })
    const down = testContext({ db, clock: new AutoClock(NOW), config })
    expect(await test.run(test.Options.parse({ args: 'webhook', json: true }), down.ctx)).toBe(1)
    expect(JSON.parse(down.stdout())).toEqual({ sink: 'webhook', ok: false, deliveries: [{ kind: 'test', ok: false, attempts: 4, status: 503, error: 'HTTP 503: down' }] })

    const log = testContext({ db, clock: new AutoClock(NOW), config: testConfig() })
    expect(await test.run(test.Options.parse({ args: 'log', json: false }), log.ctx)).toBe(0)
    expect(JSON.parse(log.stderr().trim()).msg).toMatch(/^\[TEST\] info: lora-test: Test alert from lora/)

    const missing = await test.run(test.Options.parse({ args: 'slack', json: false }), testContext({ db, config: testConfig() }).ctx).catch((e: unknown) => e)
    expect(missing).toBeInstanceOf(UsageError)
    expect((missing as UsageError).message).toBe('Profile test has no slack alert sink.')
    expect((missing as UsageError).hint).toBe('Set LORA_SLACK_WEBHOOK_URL, or alerts.sinks.slack in .lorarc.')
    expect(refusal(test.Options, { args: 'email' })).toBe('Invalid argument: unknown sink "email" (sinks: log, slack, pagerduty, webhook, alertmanager).')
  })
})
