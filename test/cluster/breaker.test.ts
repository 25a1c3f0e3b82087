import { afterEach, describe, expect, it } from 'vitest'
import { backends, type TestDb } from '../helpers/db.js'
import { CircuitBreaker } from '../../src/cluster/breaker.js'
import { FakeClock } from '../../src/clock.js'

const config = { failureThreshold: 3, windowMs: 10 * 60_000, cooldownMs: 30 * 60_000 }
const MIN = 60_000

for (const backend of backends) {
  describe.skipIf(!backend.available)(`the circuit breaker in the database (${backend.name})`, () => {
    let db: TestDb | undefined
    afterEach(async () => {
      await db?.close()
      db = undefined
    })

    it('opens after 3 failures within 10 minutes, not after 3 spread wider', async () => {
      db = await backend.open()
      const clock = new FakeClock('2026-05-01T10:00:00Z')
      const breaker = new CircuitBreaker(db, 'primary', config, clock, 'daemon-a')
      expect(await breaker.recordFailure('503')).toBeNull()
      clock.advance(6 * MIN)
      expect(await breaker.recordFailure('503')).toBeNull()
      clock.advance(6 * MIN) // the first failure is now 12 minutes old
      expect(await breaker.recordFailure('503')).toBeNull()
      expect(await breaker.check()).toEqual({ allowed: true, state: 'closed', probe: false })
      clock.advance(1 * MIN)
      expect(await breaker.recordFailure('timeout')).toEqual({ from: 'closed', to: 'open' })
      const decision = await breaker.check()
      expect(decision).toEqual({ allowed: false, state: 'open', probe: false, retryAt: new Date('2026-05-01T10:43:00Z') })
      expect((await breaker.read())!.last_error).toBe('timeout')
    })

    it('lets exactly one probe through after the cooldown, and closes when it succeeds', async () => {
      db = await backend.open()
      const clock = new FakeClock('2026-05-01T10:00:00Z')
      const a = new CircuitBreaker(db, 'primary', config, clock, 'daemon-a')
      const b = new CircuitBreaker(db, 'primary', config, clock, 'daemon-b')
      for (let i = 0; i < 3; i++) await a.recordFailure('503')
      clock.advance(29 * MIN)
      expect((await b.check()).allowed).toBe(false)
      clock.advance(1 * MIN)
      expect(await b.check()).toEqual({ allowed: true, state: 'half_open', probe: true })
      expect(await a.check()).toMatchObject({ allowed: false, state: 'half_open', probe: false })
      // Only the probe's owner closes it.
      expect(await a.recordSuccess()).toBeNull()
      expect(await b.recordSuccess()).toEqual({ from: 'half_open', to: 'closed' })
      expect(await a.check()).toEqual({ allowed: true, state: 'closed', probe: false })
      const row = (await a.read())!
      expect(row).toMatchObject({ state: 'closed', failure_times: [], probe_owner: null })
      expect(row.generation).toBe(3)
    })

    it('opens again for a full cooldown when the probe fails', async () => {
      db = await backend.open()
      const clock = new FakeClock('2026-05-01T10:00:00Z')
      const a = new CircuitBreaker(db, 'primary', config, clock, 'daemon-a')
      for (let i = 0; i < 3; i++) await a.recordFailure('503')
      clock.advance(30 * MIN)
      expect((await a.check()).probe).toBe(true)
      expect(await a.recordFailure('still 503')).toEqual({ from: 'half_open', to: 'open' })
      expect(await a.check()).toMatchObject({ allowed: false, retryAt: new Date('2026-05-01T11:00:00Z') })
    })

    it('hands the probe to another process when its owner vanished', async () => {
      db = await backend.open()
      const clock = new FakeClock('2026-05-01T10:00:00Z')
      const a = new CircuitBreaker(db, 'primary', config, clock, 'daemon-a', 60_000)
      const b = new CircuitBreaker(db, 'primary', config, clock, 'daemon-b', 60_000)
      for (let i = 0; i < 3; i++) await a.recordFailure('503')
      clock.advance(30 * MIN)
      expect((await a.check()).probe).toBe(true)
      clock.advance(30_000)
      expect((await b.check()).allowed).toBe(false)
      clock.advance(31_000)
      expect(await b.check()).toEqual({ allowed: true, state: 'half_open', probe: true })
    })

    it('forgets failures on success, and on-call can reset an open breaker', async () => {
      db = await backend.open()
      const clock = new FakeClock('2026-05-01T10:00:00Z')
      const a = new CircuitBreaker(db, 'primary', config, clock, 'daemon-a')
      await a.recordFailure('503')
      await a.recordFailure('503')
      await a.recordSuccess()
      expect(await a.recordFailure('503')).toBeNull()
      expect((await a.read())!.failure_times).toHaveLength(1)
      await a.recordFailure('503')
      await a.recordFailure('503')
      expect((await a.read())!.state).toBe('open')
      expect(await a.reset()).toBe('open')
      expect(await a.check()).toEqual({ allowed: true, state: 'closed', probe: false })
    })

    it('is one breaker for two independent connections, as for two daemons', async () => {
      db = await backend.open()
      const other = db.connectAgain ? await db.connectAgain() : db
      const clock = new FakeClock('2026-05-01T10:00:00Z')
      const a = new CircuitBreaker(db, 'primary', config, clock, 'daemon-a')
      const b = new CircuitBreaker(other, 'primary', config, clock, 'daemon-b')
      // Failures recorded concurrently from both sides are all counted: the row lock serialises them.
      const results = await Promise.all([a.recordFailure('x'), b.recordFailure('y'), a.recordFailure('z')])
      expect(results.filter((r) => r !== null)).toEqual([{ from: 'closed', to: 'open' }])
      expect((await b.check()).allowed).toBe(false)
      // Another cluster's breaker is untouched.
      expect((await new CircuitBreaker(other, 'secondary', config, clock, 'daemon-b').check()).allowed).toBe(true)
    })
  })
}
