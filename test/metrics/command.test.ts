import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { backends, type TestDb } from '../helpers/db.js'
import { testContext } from '../helpers/context.js'
import { FakeClock } from '../../src/clock.js'
import { Options, run } from '../../commands/metrics.js'
import { optionIssueToError } from '../../src/cli.js'
import { NOW, seedPlatform } from './fixture.js'

/** The sentence `lora metrics` answers bad flags with (exit 2), or null when they parse. */
function refusal(input: Record<string, unknown>): string | null {
  const parsed = Options.safeParse({ json: false, ...input })
  return parsed.success ? null : optionIssueToError(parsed.error.issues).message
}

// One backend is enough here (the server when there is one: it starts faster); the
// figures themselves are checked on both in metrics.test.ts.
const backend = backends.find((b) => b.name === 'postgres' && b.available) ?? backends[0]!

describe(`lora metrics, the command (${backend.name})`, () => {
  let db: TestDb
  beforeAll(async () => {
    db = await backend.open()
    await seedPlatform(db)
  })
  afterAll(async () => {
    await db?.close()
  })

  it('--json: every section and the indicators, in the documented shape', async () => {
    const t = testContext({ db, clock: new FakeClock(NOW) })
    expect(await run(Options.parse({ json: true }), t.ctx)).toBe(0)
    const report = JSON.parse(t.stdout())
    expect(Object.keys(report)).toEqual(['generated_at', 'period', 'sections', 'indicators', 'jobs', 'datasets', 'cost', 'storage', 'errors', 'users'])
    expect(report).toMatchObject({ generated_at: NOW.toISOString(), period: null, sections: ['jobs', 'datasets', 'cost', 'storage', 'errors', 'users'] })
    expect(Object.keys(report.jobs)).toEqual(['queue_depth', 'active', 'success_rate', 'failure_rate', 'avg_training_hours', 'stuck', 'series'])
    expect(Object.keys(report.cost)).toEqual(['series', 'per_user', 'most_expensive', 'avg_cost_per_job', 'month_to_date'])
    expect(Object.keys(report.storage)).toEqual(['datasets', 'models', 'used_bytes', 'quota_bytes', 'used_percent', 'growth', 'largest_datasets'])
    expect(Object.keys(report.indicators[0])).toEqual(['name', 'section', 'label', 'value', 'unit', 'warning', 'critical', 'direction', 'inclusive', 'status'])
    expect(t.stderr()).toBe('')
  })

  it('one section and a period', async () => {
    const t = testContext({ db, clock: new FakeClock(NOW) })
    await run(Options.parse({ args: 'errors', period: '7d', json: true }), t.ctx)
    const report = JSON.parse(t.stdout())
    expect(Object.keys(report)).toEqual(['generated_at', 'period', 'sections', 'indicators', 'errors'])
    expect(report.period).toBe('7d')
    expect(report.errors.by_type.types).toHaveLength(4)
  })

  it('on a terminal: coloured indicators, tables and asciichart lines; piped: tab-separated, no colour, no chart', async () => {
    const tty = testContext({ db, clock: new FakeClock(NOW), tty: true })
    await run(Options.parse({ args: 'jobs', json: false }), tty.ctx)
    const screen = tty.stdout()
    expect(screen).toContain('\x1b[31mcritical\x1b[39m') // the failure rate
    expect(screen).toContain('\x1b[33mwarning\x1b[39m') // the stuck job
    expect(screen).toMatch(/[┤┼╭╯]/)
    expect(screen).toContain('2025-12-16')

    const piped = testContext({ db, clock: new FakeClock(NOW) })
    await run(Options.parse({ args: 'jobs', json: false }), piped.ctx)
    const lines = piped.stdout().split('\n')
    expect(lines.slice(0, 3)).toEqual(['Health indicators', 'indicator\tvalue\tstatus\twarning\tcritical', 'Queue depth\t2 jobs\tok\t> 50\t'])
    expect(lines).toContain('Finished jobs (24h)\t3 (1 completed, 2 failed)')
    expect(lines).toContain('Success rate (24h)\t33.3 % (1 of 3 finished)')
    expect(lines).toContain('Failure rate (24h)\t66.7 % (2 of 3 finished)')
    expect(lines).toContain('bucket\tcreated\tcompleted\tfailed')
    expect(lines).toContain('2026-01-15T00:00:00.000Z\t7\t0\t2')
    expect(piped.stdout()).not.toMatch(/\x1b\[|[┤┼╭╯]/)
  })

  it('--summary prints the daily summary', async () => {
    const t = testContext({ db, clock: new FakeClock(NOW) })
    await run(Options.parse({ summary: true, json: false }), t.ctx)
    expect(t.stdout().split('\n')[0]).toBe('Daily summary for 2026-01-14 (UTC)')
    const j = testContext({ db, clock: new FakeClock(NOW) })
    await run(Options.parse({ summary: true, json: true }), j.ctx)
    expect(JSON.parse(j.stdout())).toMatchObject({ date: '2026-01-14', jobs_completed: 1, jobs_failed: 1, new_users: 1 })
  })

  it('--watch refreshes on the clock until Ctrl-C, one JSON object per line', async () => {
    const clock = new FakeClock(NOW)
    const stop = new AbortController()
    const t = testContext({ db, clock, signal: stop.signal })
    const done = run(Options.parse({ args: 'datasets', watch: '30s', json: true }), t.ctx)
    const lines = () => t.stdout().split('\n').filter(Boolean)
    await vi_waitFor(() => lines().length === 1 && clock.pending === 1)
    expect(clock.sleeps).toEqual([30_000])
    clock.advance(30_000)
    await vi_waitFor(() => lines().length === 2 && clock.pending === 1)
    stop.abort()
    expect(await done).toBe(0)
    expect(lines().map((l) => JSON.parse(l).generated_at)).toEqual([NOW.toISOString(), new Date(NOW.getTime() + 30_000).toISOString()])
    expect(t.stderr()).toBe('refreshing every 30s; Ctrl-C stops\n')
  })

  it('refuses an unknown section, a bad --period or --watch, and --summary with a section: one sentence', () => {
    expect(refusal({ args: 'jobz' })).toBe('Invalid argument: unknown section "jobz" (sections: jobs, datasets, cost, storage, errors, users).')
    expect(refusal({ period: '2h' })).toBe('Invalid --period: expected one of 1h, 24h, 7d, 30d, got "2h".')
    expect(refusal({ watch: 'often' })).toBe('Invalid --watch: expected a duration of at least 1s such as 2s, 10m or 7d (got "often").')
    expect(refusal({ watch: '10ms' })).toBe('Invalid --watch: expected a duration of at least 1s such as 2s, 10m or 7d (got "10ms").')
    expect(refusal({ summary: true, args: 'jobs' })).toBe('Invalid --summary: --summary is the daily summary alone: it takes no section, --period or --watch.')
    expect(refusal({ watch: true })).toBeNull()
    expect(Options.parse({ watch: true, json: false }).watch).toBe(10_000)
  })
})

async function vi_waitFor(condition: () => boolean, timeoutMs = 5_000): Promise<void> {
  const started = Date.now()
  while (!condition()) {
    if (Date.now() - started > timeoutMs) throw new Error('condition not met in time')
    await new Promise((r) => setTimeout(r, 5))
  }
}
