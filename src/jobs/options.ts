import { z } from 'zod'
import { parseDuration } from '../config/duration.js'
import { ACTIVE_STATUSES, TERMINAL_STATUSES } from '../db/queries/jobs.js'

/**
 * Flag schemas shared by the jobs commands. Flags arrive as strings (commander) or
 * numbers (tests); each message says the allowed range and what was given, and the
 * CLI prefixes it with the flag's name.
 */

/** A flag's value as an error message quotes it. */
export const show = (value: unknown) => (typeof value === 'string' ? `"${value}"` : String(value))

/** A number in [min, max], written in the message as the bounds are usually written. */
export function boundedNumber(options: { min: number; max: number; integer?: boolean; text?: [string, string] }) {
  const [lo, hi] = options.text ?? [String(options.min), String(options.max)]
  const kind = options.integer ? 'an integer' : 'a number'
  return z.union([z.string(), z.number()]).transform((raw, ctx) => {
    const value = typeof raw === 'number' ? raw : raw.trim() === '' ? NaN : Number(raw)
    if (!Number.isFinite(value) || (options.integer && !Number.isInteger(value)) || value < options.min || value > options.max) {
      ctx.addIssue({ code: 'custom', message: `must be ${kind} from ${lo} to ${hi} (got ${show(raw)})` })
      return z.NEVER
    }
    return value
  })
}

/** --speed of the built-in simulator: simulated time per real time (simulator.speed's bounds). */
export const simulatorSpeedFlag = boundedNumber({ min: 0.1, max: 100_000 })

export const userId = z.guid({ error: (issue) => `expected a user id (a UUID), got ${show(issue.input)}` })

/** A duration such as 2s, 30s or 7d, in milliseconds. */
export function duration(options: { min: number; minText: string }) {
  return z.union([z.string(), z.number()]).transform((raw, ctx) => {
    const ms = typeof raw === 'number' ? raw : parseDuration(raw)
    if (ms === null || !Number.isFinite(ms) || ms < options.min) {
      ctx.addIssue({ code: 'custom', message: `expected a duration of at least ${options.minText} such as 2s, 10m or 7d (got ${show(raw)})` })
      return z.NEVER
    }
    return ms
  })
}

export const JOB_STATUSES = [...ACTIVE_STATUSES, ...TERMINAL_STATUSES] as readonly string[]

/** A comma-separated list of statuses; `active` stands for queued, initializing and running. */
export const statusList = z.union([z.string(), z.array(z.string())]).transform((raw, ctx) => {
  const words = (Array.isArray(raw) ? raw : raw.split(',')).map((w) => w.trim().toLowerCase()).filter(Boolean)
  const statuses = new Set<string>()
  for (const word of words) {
    if (word === 'active') for (const s of ACTIVE_STATUSES) statuses.add(s)
    else if (JOB_STATUSES.includes(word)) statuses.add(word)
    else {
      ctx.addIssue({ code: 'custom', message: `"${word}" is not a job status (${JOB_STATUSES.join(', ')}, or active)` })
      return z.NEVER
    }
  }
  if (statuses.size === 0) {
    ctx.addIssue({ code: 'custom', message: `expected one or more of ${JOB_STATUSES.join(', ')}` })
    return z.NEVER
  }
  return [...statuses]
})
