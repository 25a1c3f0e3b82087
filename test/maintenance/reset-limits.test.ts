import { afterEach, describe, expect, it } from 'vitest'
import { backends, type TestDb } from '../helpers/db.js'
import { testContext } from '../helpers/context.js'
import { FakeClock } from '../../src/clock.js'
import { run, Options } from '../../commands/reset-limits.js'
import { UsageError } from '../../src/errors.js'
import { KEY, scriptedTerminal } from '../jobs/fixtures.js'

const A = '00000000-0000-4000-8000-00000000000a'
const B = '00000000-0000-4000-8000-00000000000b'
const C = '00000000-0000-4000-8000-00000000000c'

async function seed(db: TestDb) {
  await db.query(
    `INSERT INTO user_training_limits (user_id, loras_created_this_month, month_reset_date) VALUES
       ($1, 7, '2026-02-01'), ($2, 3, NULL), ($3, 2, '2026-03-01')`,
    [A, B, C],
  )
}

const limits = (db: TestDb) =>
  db.query<{ user_id: string; n: number; d: string | Date | null }>(
    'SELECT user_id, loras_created_this_month AS n, month_reset_date AS d FROM user_training_limits ORDER BY user_id',
  )

const options = (o: Record<string, unknown> = {}) => Options.parse({ json: false, ...o })

for (const backend of backends) {
  describe.skipIf(!backend.available)(`reset-limits (${backend.name})`, () => {
    let db: TestDb | undefined
    afterEach(async () => {
      await db?.close()
      db = undefined
    })

    it('resets users counted from an earlier month (or never), once; a second run changes nothing', async () => {
      db = await backend.open()
      await seed(db)
      const clock = new FakeClock('2026-03-01T00:05:00Z')
      const t = testContext({ db, clock })
      expect(await run(options({ yes: true }), t.ctx)).toBe(0)
      expect(t.stdout()).toBe('reset 2 user(s) for 2026-03\n')
      expect(await limits(db)).toEqual([
        { user_id: A, n: 0, d: '2026-03-01' },
        { user_id: B, n: 0, d: '2026-03-01' },
        { user_id: C, n: 2, d: '2026-03-01' },
      ])
      const again = testContext({ db, clock })
      expect(await run(options({ yes: true }), again.ctx)).toBe(0)
      expect(again.stdout()).toBe('nothing to reset for 2026-03: every user is already counted from this month\n')
      const audit = await db.query<{ action: string; count: number }>('SELECT action, count FROM lora_ops.audit_log')
      expect(audit).toEqual([{ action: 'reset-limits', count: 2 }])
    })

    it('takes the month boundary in UTC, with the reset date kept as a TIMESTAMPTZ too', async () => {
      db = await backend.open()
      await db.exec(`ALTER TABLE user_training_limits ALTER COLUMN month_reset_date TYPE timestamptz USING month_reset_date::timestamptz`)
      await db.query(`INSERT INTO user_training_limits (user_id, loras_created_this_month, month_reset_date) VALUES ($1, 5, '2026-03-01T00:00:00Z')`, [A])
      // 23:30 UTC on the 31st is still March: nothing to do for April yet.
      const late = testContext({ db, clock: new FakeClock('2026-03-31T23:30:00Z') })
      expect(await run(options({ force: true, yes: true }), late.ctx)).toBe(0)
      expect((await limits(db))[0]!.n).toBe(5)
      const april = testContext({ db, clock: new FakeClock('2026-04-01T00:00:00Z') })
      expect(await run(options({ yes: true }), april.ctx)).toBe(0)
      const [row] = await limits(db)
      expect(row).toEqual({ user_id: A, n: 0, d: new Date('2026-04-01T00:00:00Z') })
    })

    it('asks at a terminal through the context\'s prompter: no changes nothing (exit 1), yes resets', async () => {
      db = await backend.open()
      await seed(db)
      const clock = new FakeClock('2026-03-01T00:05:00Z')
      const no = scriptedTerminal([{ expect: 'Reset the monthly count of 2 user(s) for 2026-03?', keys: KEY.enter }])
      const declined = testContext({ db, clock, tty: true, prompter: no.prompter })
      expect(await run(options(), declined.ctx)).toBe(1)
      expect(declined.stderr()).toBe('nothing was changed\n')
      expect((await limits(db)).map((r) => r.n)).toEqual([7, 3, 2])
      const yes = scriptedTerminal([{ expect: 'Reset the monthly count of 2 user(s) for 2026-03?', keys: 'y' + KEY.enter }])
      const confirmed = testContext({ db, clock, tty: true, prompter: yes.prompter })
      expect(await run(options(), confirmed.ctx)).toBe(0)
      expect(yes.answered()).toBe(1)
      expect((await limits(db)).map((r) => r.n)).toEqual([0, 0, 2])
    })

    it('shows with --dry-run exactly who would be reset, and changes nothing', async () => {
      db = await backend.open()
      await seed(db)
      const t = testContext({ db, clock: new FakeClock('2026-03-01T08:00:00Z') })
      expect(await run(options({ dryRun: true }), t.ctx)).toBe(0)
      expect(t.stdout()).toBe(`dry run: 2 user(s) would be reset for 2026-03\nuser\tjobs_this_month\tlast_reset\n${A}\t7\t2026-02-01\n${B}\t3\tnever\n`)
      expect((await limits(db)).map((r) => r.n)).toEqual([7, 3, 2])
    })

    it('refuses, changing nothing: another day than the 1st, a month that does not exist or has not begun, an unknown user, no --yes without a terminal', async () => {
      db = await backend.open()
      await seed(db)
      const clock = new FakeClock('2026-03-15T10:00:00Z')
      const attempt = async (o: Record<string, unknown>) => {
        const t = testContext({ db, clock })
        const error = await run(options(o), t.ctx).then(() => null, (e: unknown) => e)
        expect(error).toBeInstanceOf(UsageError)
        return (error as UsageError).message
      }
      expect(await attempt({ yes: true })).toBe('Today is the 15th (UTC), not the 1st: the monthly reset runs on the 1st.')
      expect(await attempt({ month: '2026-13', yes: true })).toBe('Invalid --month: expected YYYY-MM such as 2026-03, got "2026-13".')
      expect(await attempt({ month: 'march', yes: true })).toBe('Invalid --month: expected YYYY-MM such as 2026-03, got "march".')
      expect(await attempt({ month: '2026-04', yes: true })).toBe('Invalid --month: 2026-04 has not begun yet (this is 2026-03).')
      expect(await attempt({ month: '2026-03', user: '00000000-0000-4000-8000-0000000000ff', yes: true })).toBe(
        'User 00000000-0000-4000-8000-0000000000ff has no training limits row: nothing to reset.',
      )
      expect(await attempt({ month: '2026-03' })).toBe('Resetting the monthly count of 2 user(s) for 2026-03 needs --yes without a terminal.')
      expect((await limits(db)).map((r) => r.n)).toEqual([7, 3, 2])
      expect(Options.safeParse({ json: false, user: 'nope' }).success).toBe(false)
    })
  })
}
