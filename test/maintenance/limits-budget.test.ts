import { afterEach, describe, expect, it } from 'vitest'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { backends, type TestDb } from '../helpers/db.js'
import { testConfig, testContext } from '../helpers/context.js'
import { tempDir } from '../helpers/cli.js'
import { FakeClock } from '../../src/clock.js'
import { LoraError, UsageError } from '../../src/errors.js'
import { loadConfig } from '../../src/config/load.js'
import { SCHEDULE } from '../../src/maintenance/schedule.js'
import { monthOf } from '../../src/month.js'
import * as limitsShow from '../../commands/limits-show.js'
import * as limitsSet from '../../commands/limits-set.js'
import * as budgetShow from '../../commands/budget-show.js'
import * as resetLimits from '../../commands/reset-limits.js'

const A = '00000000-0000-4000-8000-00000000000a'
const B = '00000000-0000-4000-8000-00000000000b'
const NEW = '00000000-0000-4000-8000-00000000000e'

async function seedLimits(db: TestDb) {
  await db.query(
    `INSERT INTO user_training_limits (user_id, loras_created_this_month, monthly_limit, month_reset_date) VALUES
       ($1, 7, 10, '2026-03-01'), ($2, 2, 25, NULL)`,
    [A, B],
  )
}

const rows = (db: TestDb) =>
  db.query<{ user_id: string; monthly_limit: number }>('SELECT user_id, monthly_limit FROM user_training_limits ORDER BY user_id')
const audits = (db: TestDb) => db.query<{ action: string; target: string; details: Record<string, unknown> }>('SELECT action, target, details FROM lora_ops.audit_log ORDER BY id')

const parseSet = (input: Record<string, unknown>) => limitsSet.Options.safeParse({ json: false, ...input })

describe('option schemas of limits set: bad values are refused before anything runs', () => {
  it('refuses a negative, fractional or non-numeric --monthly and a --user that is not a UUID', () => {
    for (const monthly of ['-1', '2.5', 'ten', '']) {
      const parsed = parseSet({ user: A, monthly })
      expect(parsed.success).toBe(false)
      expect(parsed.error!.issues[0]!.message).toBe(`must be an integer from 0 to 1000000 (got "${monthly}")`)
    }
    expect(parseSet({ user: 'bob', monthly: '3' }).error!.issues[0]!.message).toBe('expected a user id (a UUID), got "bob"')
    expect(parseSet({ user: A, monthly: '0' }).data).toMatchObject({ user: A, monthly: 0 })
  })
})

for (const backend of backends) {
  describe.skipIf(!backend.available)(`limits and budget without SQL (${backend.name})`, () => {
    let db: TestDb | undefined
    afterEach(async () => {
      await db?.close()
      db = undefined
    })

    it('limits show: used of limit, remaining, last and next reset, as a table, TSV and --json', async () => {
      db = await backend.open()
      await seedLimits(db)
      const clock = new FakeClock('2026-03-10T12:00:00Z')
      const piped = testContext({ db, clock })
      expect(await limitsShow.run({ json: false }, piped.ctx)).toBe(0)
      expect(piped.stdout()).toBe(
        'user\tused\tlimit\tremaining\tlast_reset\tnext_reset\n' +
          `${A}\t7\t10\t3\t2026-03-01\t2026-04-01T00:00:00.000Z\n` +
          `${B}\t2\t25\t23\tnever\t2026-04-01T00:00:00.000Z\n`,
      )
      const json = testContext({ db, clock })
      expect(await limitsShow.run({ json: true, user: A }, json.ctx)).toBe(0)
      expect(JSON.parse(json.stdout())).toEqual({
        timezone: 'UTC',
        next_reset: '2026-04-01T00:00:00.000Z',
        users: [{ user_id: A, used: 7, monthly_limit: 10, remaining: 3, month_reset_date: '2026-03-01', next_reset: '2026-04-01T00:00:00.000Z' }],
      })
      const unknown = testContext({ db, clock })
      const error = await limitsShow.run({ json: false, user: NEW }, unknown.ctx).then(() => null, (e: unknown) => e)
      expect(error).toBeInstanceOf(LoraError)
      expect((error as LoraError).exitCode).toBe(1)
      expect((error as LoraError).message).toBe(`User ${NEW} has no training limits yet: it has never submitted a job.`)
    })

    it('limits show: the next reset is midnight on the 1st in limits.timezone', async () => {
      db = await backend.open()
      await seedLimits(db)
      const t = testContext({ db, clock: new FakeClock('2026-03-10T12:00:00Z'), config: testConfig({ limits: { timezone: 'America/New_York' } }) })
      expect(await limitsShow.run({ json: true }, t.ctx)).toBe(0)
      // EDT (UTC-4) on April 1st.
      expect(JSON.parse(t.stdout())).toMatchObject({ timezone: 'America/New_York', next_reset: '2026-04-01T04:00:00.000Z' })
    })

    it('limits set: --dry-run changes nothing; --yes changes one user, audited; a new user gets a row', async () => {
      db = await backend.open()
      await seedLimits(db)
      const clock = new FakeClock('2026-03-10T12:00:00Z')
      const dry = testContext({ db, clock })
      expect(await limitsSet.run(parseSet({ user: A, monthly: '25', dryRun: true }).data!, dry.ctx)).toBe(0)
      expect(dry.stdout()).toBe(`dry run: user ${A}'s monthly limit would go from 10 to 25 (7 used this month)\n`)
      expect(await rows(db)).toEqual([{ user_id: A, monthly_limit: 10 }, { user_id: B, monthly_limit: 25 }])
      expect(await audits(db)).toEqual([])

      const yes = testContext({ db, clock, env: { LORA_ACTOR: 'ops' } })
      expect(await limitsSet.run(parseSet({ user: A, monthly: '25', yes: true, json: true }).data!, yes.ctx)).toBe(0)
      expect(JSON.parse(yes.stdout())).toEqual({ user_id: A, previous_limit: 10, monthly_limit: 25, used: 7, dry_run: false })
      const fresh = testContext({ db, clock })
      expect(await limitsSet.run(parseSet({ user: NEW, monthly: '3', yes: true }).data!, fresh.ctx)).toBe(0)
      expect(fresh.stdout()).toBe(`user ${NEW}: monthly limit default -> 3 (0 used this month)\n`)
      expect(await rows(db)).toEqual([{ user_id: A, monthly_limit: 25 }, { user_id: B, monthly_limit: 25 }, { user_id: NEW, monthly_limit: 3 }])
      const [{ month_reset_date }] = (await db.query<{ month_reset_date: string }>('SELECT month_reset_date FROM user_training_limits WHERE user_id = $1', [NEW])) as [{ month_reset_date: string }]
      expect(month_reset_date).toBe('2026-03-01')
      expect(await audits(db)).toEqual([
        { action: 'limits.set', target: A, details: { from: 10, to: 25, used: 7 } },
        { action: 'limits.set', target: NEW, details: { from: null, to: 3, used: 0 } },
      ])
    })

    it('limits set: without --yes and no terminal, or without --user or --monthly, it is a usage error and writes nothing', async () => {
      db = await backend.open()
      await seedLimits(db)
      const t = testContext({ db })
      for (const input of [{ user: A, monthly: '25' }, { monthly: '25', yes: true }, { user: A, yes: true }]) {
        const error = await limitsSet.run(parseSet(input).data!, t.ctx).then(() => null, (e: unknown) => e)
        expect(error).toBeInstanceOf(UsageError)
      }
      const messages = await Promise.all([{ monthly: '25', yes: true }, { user: A, yes: true }].map((input) => limitsSet.run(parseSet(input).data!, t.ctx).catch((e: Error) => e.message)))
      expect(messages).toEqual([
        'Missing --user: name the user whose limit to set (a UUID).',
        'Missing --monthly: give the new monthly limit, a whole number of jobs.',
      ])
      expect(await rows(db)).toEqual([{ user_id: A, monthly_limit: 10 }, { user_id: B, monthly_limit: 25 }])
      expect(await audits(db)).toEqual([])
    })

    it('budget show: budget, recorded, running, committed, remaining and projection, TSV and --json; a past month too', async () => {
      db = await backend.open()
      const [dataset] = await db.query<{ id: string }>(`INSERT INTO datasets (user_id, name, format, storage_path) VALUES ($1, 'd', 'chat', 'p') RETURNING id`, [A])
      // Recorded: $30 on March 2nd and $10 on the 5th; $12.50 in February.
      await db.query(
        `INSERT INTO cost_records (user_id, job_id, cost_type, amount, billing_period, recorded_at) VALUES
           ($1, NULL, 'training_compute', 30, '2026-03-01', '2026-03-02T10:00:00Z'),
           ($1, NULL, 'training_compute', 10, '2026-03-01', '2026-03-05T10:00:00Z'),
           ($1, NULL, 'training_compute', 12.5, '2026-02-01', '2026-02-20T10:00:00Z')`,
        [A],
      )
      // Running: $2 so far against an estimate of $5 (it holds $5).
      await db.query(
        `INSERT INTO training_jobs (user_id, dataset_id, status, estimated_total_cost, current_cost, cost_by_month) VALUES ($1, $2, 'running', 5, 2, '{"2026-03": 2}')`,
        [A, dataset!.id],
      )
      const clock = new FakeClock('2026-03-11T00:00:00Z')
      const config = testConfig({ budget: { monthlyUsd: 100, warnRatio: 0.75 } })
      const piped = testContext({ db, clock, config })
      expect(await budgetShow.run({ json: false }, piped.ctx)).toBe(0)
      // $42 spent in 10 days of 31: $130.20 by the end of the month.
      expect(piped.stdout()).toBe('Month\t2026-03\nBudget\t$100.00\nRecorded\t$40.00\nRunning\t$2.00\nCommitted\t$45.00 (45 %)\nRemaining\t$55.00\nProjected\t$130.20\n')
      const json = testContext({ db, clock, config })
      expect(await budgetShow.run({ json: true }, json.ctx)).toBe(0)
      const report = JSON.parse(json.stdout())
      expect(report).toMatchObject({ month: '2026-03', budget: 100, recorded: 40, running: 2, reserved: 5, committed: 45, remaining: 55, committed_percent: 45, projected: 130.2 })
      expect(report.daily).toHaveLength(11)
      expect(report.daily.slice(0, 5)).toEqual([
        { day: '2026-03-01', cost: 0 },
        { day: '2026-03-02', cost: 30 },
        { day: '2026-03-03', cost: 0 },
        { day: '2026-03-04', cost: 0 },
        { day: '2026-03-05', cost: 10 },
      ])
      const past = testContext({ db, clock, config })
      expect(await budgetShow.run({ json: true, month: '2026-02' }, past.ctx)).toBe(0)
      expect(JSON.parse(past.stdout())).toMatchObject({ month: '2026-02', recorded: 12.5, running: 0, reserved: 0, committed: 12.5, projected: 12.5 })
      expect(JSON.parse(past.stdout()).daily).toHaveLength(28)
      const bad = testContext({ db, clock, config })
      await expect(budgetShow.run({ json: false, month: '2026-13' }, bad.ctx)).rejects.toThrow('Invalid --month: expected YYYY-MM such as 2026-03, got "2026-13".')
      expect(bad.stdout()).toBe('')
    })

    it('budget show on a terminal draws the daily spend', async () => {
      db = await backend.open()
      await db.query(`INSERT INTO cost_records (user_id, cost_type, amount, billing_period, recorded_at) VALUES ($1, 'training_compute', 3, '2026-03-01', '2026-03-03T10:00:00Z')`, [A])
      const t = testContext({ db, clock: new FakeClock('2026-03-06T00:00:00Z'), tty: true, env: { NO_COLOR: '1' } })
      expect(await budgetShow.run({ json: false }, t.ctx)).toBe(0)
      expect(t.stdout()).toContain('Daily spend (USD)')
      expect(t.stdout()).toMatch(/ 3\.000 ┼ ╭╮\n/)
      expect(t.stdout()).toMatch(/ 0\.000 ┼─╯╰──\n$/)
    })

    it('reset-limits takes the 1st in limits.timezone: 00:30 in Paris on April 1st resets, 23:30 on March 31st refuses', async () => {
      db = await backend.open()
      await seedLimits(db)
      const config = testConfig({ limits: { timezone: 'Europe/Paris' } })
      const early = testContext({ db, config, clock: new FakeClock('2026-03-31T21:30:00Z') })
      const error = await resetLimits.run(resetLimits.Options.parse({ json: false, yes: true }), early.ctx).then(() => null, (e: unknown) => e)
      expect((error as UsageError).message).toBe('Today is the 31st (Europe/Paris), not the 1st: the monthly reset runs on the 1st.')
      // 00:30 CEST on April 1st is 22:30 UTC on March 31st.
      const t = testContext({ db, config, clock: new FakeClock('2026-03-31T22:30:00Z') })
      expect(await resetLimits.run(resetLimits.Options.parse({ json: false, yes: true }), t.ctx)).toBe(0)
      expect(t.stdout()).toBe('reset 2 user(s) for 2026-04\n')
    })
  })
}

describe('limits.timezone', () => {
  it("the daemon's monthly reset is due at midnight on the 1st in the zone, across a change to summer time", () => {
    const task = SCHEDULE.find((t) => t.name === 'reset-limits')!
    expect(task.slot(new Date('2026-04-01T08:00:00Z'), 'Europe/Paris').toISOString()).toBe('2026-03-31T22:00:00.000Z')
    expect(task.slot(new Date('2026-03-31T21:59:00Z'), 'Europe/Paris').toISOString()).toBe('2026-02-28T23:00:00.000Z')
    expect(task.slot(new Date('2026-04-01T08:00:00Z'), 'UTC').toISOString()).toBe('2026-04-01T00:00:00.000Z')
    expect(monthOf(new Date('2026-03-31T22:30:00Z'), 'Europe/Paris')).toMatchObject({ label: '2026-04', day: '2026-04-01' })
  })

  it('a zone that is not an IANA zone is a configuration error (exit 2) naming it', async () => {
    const dir = tempDir('lora-tz-')
    try {
      mkdirSync(join(dir.path, 'home'))
      const error = await loadConfig({ cwd: dir.path, env: { LORA_LIMITS_TIMEZONE: 'Mars/Olympus' }, homeDir: join(dir.path, 'home'), flags: {} }).then(() => null, (e: unknown) => e)
      expect(error).toBeInstanceOf(UsageError)
      expect((error as UsageError).exitCode).toBe(2)
      expect((error as UsageError).message).toBe('env LORA_LIMITS_TIMEZONE: limits.timezone must be an IANA time zone such as UTC, Europe/Paris or America/New_York, got "Mars/Olympus".')
      const { config } = await loadConfig({ cwd: dir.path, env: { LORA_LIMITS_TIMEZONE: 'Asia/Tokyo' }, homeDir: join(dir.path, 'home'), flags: {} })
      expect(config.limits).toEqual({ timezone: 'Asia/Tokyo' })
    } finally {
      dir.remove()
    }
  })
})
