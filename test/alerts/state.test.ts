import { describe, expect, it } from 'vitest'
import { decide, fingerprintOf, isSilenced } from '../../src/alerts/state.js'
import type { Observation } from '../../src/alerts/types.js'
import type { AlertStateRow } from '../../src/db/queries/alerts.js'

const t0 = new Date('2026-01-15T12:00:00Z')
const at = (minutes: number) => new Date(t0.getTime() + minutes * 60_000)
const REPEAT = 4 * 60 * 60_000
const obs = (extra: Partial<Observation> = {}): Observation => ({ rule: 'failure-rate', subject: '', severity: 'warning', message: 'rate is 12 %', value: 12, threshold: 10, source: 'rule', ...extra })
const opts = (silenced = false) => ({ repeatIntervalMs: REPEAT, silenced })

/** Runs observations through the machine, as the database would keep the row between them. */
function run(steps: [number, Observation | null, boolean?][]) {
  let row: AlertStateRow | null = null
  const notified: (string | null)[] = []
  for (const [minute, o, silenced] of steps) {
    const d = decide(row, o, at(minute), opts(silenced))
    notified.push(d.notify)
    if (d.next === 'delete') row = null
    else if (d.next) row = d.next
  }
  return { row, notified }
}

describe('the alert state machine', () => {
  it('fires once, repeats only after the interval, resolves once', () => {
    const { row, notified } = run([
      [0, obs()],
      [30, obs()],
      [239, obs()],
      [240, obs()],
      [300, obs()],
      [480, obs()],
      [481, null],
      [482, null],
    ])
    expect(notified).toEqual(['fired', null, null, 'repeated', null, 'repeated', 'resolved', null])
    expect(row).toMatchObject({ status: 'resolved', first_fired_at: t0, resolved_at: at(481), last_notified_at: at(480), notifications: 3 })
  })

  it('keeps the latest value and message while firing, without notifying', () => {
    const { row } = run([[0, obs()], [10, obs({ value: 14, message: 'rate is 14 %' })]])
    expect(row).toMatchObject({ status: 'firing', value: 14, message: 'rate is 14 %', last_notified_at: t0, first_fired_at: t0 })
  })

  it('notifies again when the severity rises, not when it falls', () => {
    const rising = run([[0, obs()], [5, obs({ severity: 'critical' })], [10, obs()], [15, obs({ severity: 'critical' })]])
    expect(rising.notified).toEqual(['fired', 'fired', null, null])
    const d = decide(run([[0, obs()]]).row, obs({ severity: 'critical' }), at(1), opts())
    expect(d).toMatchObject({ notify: 'fired', previousSeverity: 'warning' })
  })

  it('holds a rule with a hold time pending, fires once held long enough, forgets it if it lets go first', () => {
    const queue = (extra: Partial<Observation> = {}) => obs({ rule: 'queue-depth', severity: 'critical', forMs: 30 * 60_000, ...extra })
    const held = run([[0, queue()], [29, queue()], [30, queue()], [31, queue()]])
    expect(held.notified).toEqual([null, null, 'fired', null])
    // It fired at 30 minutes; the condition has held since 0.
    expect(held.row).toMatchObject({ status: 'firing', active_since: t0, first_fired_at: at(30) })
    const let_go = run([[0, queue()], [20, null], [25, queue()], [54, queue()], [55, queue()]])
    expect(let_go.notified).toEqual([null, null, null, null, 'fired'])
    expect(let_go.row).toMatchObject({ active_since: at(25) })
  })

  it('a silence holds back fired and repeated; the alert is announced when the silence ends; resolves still go out', () => {
    const s = run([
      [0, obs(), true],
      [60, obs(), true],
      [300, obs(), true],
      [301, obs(), false],
      [302, obs(), false],
    ])
    expect(s.notified).toEqual([null, null, null, 'fired', null])
    // Never announced, so its resolve is not sent either.
    const quiet = run([[0, obs(), true], [10, null, true]])
    expect(quiet.notified).toEqual([null, null])
    // Announced, then silenced: the resolve goes out so that PagerDuty closes the incident.
    const loud = run([[0, obs()], [10, obs(), true], [20, null, true]])
    expect(loud.notified).toEqual(['fired', null, 'resolved'])
  })

  it('fires again after a resolve, as a new episode', () => {
    const { row, notified } = run([[0, obs()], [10, null], [20, obs()]])
    expect(notified).toEqual(['fired', 'resolved', 'fired'])
    expect(row).toMatchObject({ status: 'firing', first_fired_at: at(20), resolved_at: null, notifications: 1 })
  })

  it('fingerprints by rule and subject; a silence without a subject covers every subject', () => {
    expect(fingerprintOf('stuck-jobs', 'a')).toBe(fingerprintOf('stuck-jobs', 'a'))
    expect(fingerprintOf('stuck-jobs', 'a')).not.toBe(fingerprintOf('stuck-jobs', 'b'))
    expect(fingerprintOf('stuck-jobs', 'a')).toMatch(/^stuck-jobs-[0-9a-f]{12}$/)
    expect(isSilenced([{ rule: 'stuck-jobs', subject: null }], 'stuck-jobs', 'x')).toBe(true)
    expect(isSilenced([{ rule: 'stuck-jobs', subject: 'y' }], 'stuck-jobs', 'x')).toBe(false)
    expect(isSilenced([{ rule: 'queue-depth', subject: null }], 'stuck-jobs', 'x')).toBe(false)
  })
})
