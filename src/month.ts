import { UsageError } from './errors.js'

/**
 * Months, in one place: the UTC month that budgets and cost records are kept in, and
 * the month of an IANA zone that users' limits reset in (limits.timezone).
 */

/** The first instant of the UTC month that `at` falls in. */
export function monthStartOf(at: Date): Date {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth(), 1))
}

/** The first instant of the UTC month after the one `at` falls in. */
export function nextMonthStart(at: Date): Date {
  return new Date(Date.UTC(at.getUTCFullYear(), at.getUTCMonth() + 1, 1))
}

/** The UTC month of an instant as YYYY-MM: the key of a job's cost by month. */
export function monthKey(at: Date): string {
  return at.toISOString().slice(0, 7)
}

export interface Month {
  /** YYYY-MM */
  label: string
  /** The month's first instant: midnight on the 1st in the zone it was taken in (UTC by default). */
  start: Date
  /** Its first day, YYYY-MM-DD. */
  day: string
  /** The next month's first instant, in the same zone. */
  end: Date
}

/** The calendar date and time of an instant in an IANA zone. */
export function zonedParts(at: Date, zone: string): { year: number; month: number; day: number; hour: number } {
  const parts = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric' }).formatToParts(at)
  const get = (type: string) => Number(parts.find((p) => p.type === type)!.value)
  return { year: get('year'), month: get('month'), day: get('day'), hour: get('hour') }
}

/** The instant of midnight starting a given day in a zone (month is 1-12, and may run past 12). */
function zonedMidnight(year: number, month: number, day: number, zone: string): Date {
  const wall = Date.UTC(year, month - 1, day)
  // The zone's offset at a guess, then at the corrected instant: right across DST changes.
  let at = wall
  for (let i = 0; i < 2; i++) {
    const p = new Intl.DateTimeFormat('en-US', { timeZone: zone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric' }).formatToParts(new Date(at))
    const get = (type: string) => Number(p.find((x) => x.type === type)!.value)
    const shown = Date.UTC(get('year'), get('month') - 1, get('day'), get('hour'), get('minute'), get('second'))
    at = wall - (shown - at)
  }
  return new Date(at)
}

function monthAt(year: number, month: number, zone: string): Month {
  const first = new Date(Date.UTC(year, month - 1, 1))
  const day = first.toISOString().slice(0, 10)
  return { label: day.slice(0, 7), start: zonedMidnight(year, month, 1, zone), day, end: zonedMidnight(year, month + 1, 1, zone) }
}

/** The month that `date` falls in, as the calendar of `zone` has it. */
export function monthOf(date: Date, zone = 'UTC'): Month {
  const p = zonedParts(date, zone)
  return monthAt(p.year, p.month, zone)
}

/** Reads --month: YYYY-MM, a real month, not after the current one. */
export function parseMonth(text: string, now: Date, zone = 'UTC'): Month {
  const match = /^(\d{4})-(\d{2})$/.exec(text.trim())
  const month = match ? Number(match[2]) : 0
  const current = monthOf(now, zone)
  if (!match || month < 1 || month > 12) {
    throw new UsageError(`Invalid --month: expected YYYY-MM such as ${current.label}, got "${text}".`, { code: 'invalid_option' })
  }
  const parsed = monthAt(Number(match[1]), month, zone)
  if (parsed.start.getTime() > current.start.getTime()) {
    throw new UsageError(`Invalid --month: ${parsed.label} has not begun yet (this is ${current.label}).`, { code: 'invalid_option' })
  }
  return parsed
}
