import { z } from 'zod'
import { parseDuration } from './config/duration.js'
import { isIdPrefix, MIN_PREFIX } from './ids.js'

/**
 * How a command declares its flags, and the flag schemas commands share. Each command
 * module lists its flags once (syntax, description, schema, default) and derives its
 * `Options` from them; the CLI registers the same list with commander. Flags arrive as
 * strings (commander) or numbers (tests); each message says what was expected and what
 * was given, and the CLI prefixes it with the flag's name.
 */

export interface Flag<S extends z.ZodType = z.ZodType> {
  /** In commander syntax: '--limit <n>', '-y, --yes', '--watch [interval]'. */
  readonly flags: string
  readonly description: string
  /** What the value parses to in the command's Options. */
  readonly schema: S
  /** As it would be typed ('50', '2s'): --help shows it, and Options parse it when the flag is absent. */
  readonly default?: string
}

export type Flags = Record<string, Flag>

export function flag<S extends z.ZodType>(flags: string, description: string, schema: S): Flag<S>
export function flag<S extends z.ZodType>(flags: string, description: string, schema: S, typedDefault: string): Flag<S> & { default: string }
export function flag(flags: string, description: string, schema: z.ZodType, typedDefault?: string): Flag {
  return typedDefault === undefined ? { flags, description, schema } : { flags, description, schema, default: typedDefault }
}

type OptionsShape<F extends Flags> = { [K in keyof F]: F[K] extends { default: string } ? z.ZodPrefault<F[K]['schema']> : F[K]['schema'] }

/** A command's Options: the schemas of its flags under their commander names, and its positional `args` if any. */
export function optionsOf<F extends Flags, A extends z.ZodRawShape = Record<never, never>>(flags: F, more?: A): z.ZodObject<OptionsShape<F> & A> {
  const shape: Record<string, z.ZodType> = {}
  for (const [key, f] of Object.entries(flags)) shape[key] = f.default === undefined ? f.schema : f.schema.prefault(f.default as never)
  return z.object({ ...shape, ...more }) as unknown as z.ZodObject<OptionsShape<F> & A>
}

/** A flag's value as an error message quotes it. */
export const show = (value: unknown) => (typeof value === 'string' ? `"${value}"` : String(value))

/** A number in [min, max] (max may be open), written in the message as the bounds are usually written. */
export function boundedNumber(options: { min: number; max?: number; integer?: boolean; text?: [string, string] }) {
  const { min, max = Infinity } = options
  const [lo, hi] = options.text ?? [String(min), String(max)]
  const kind = options.integer ? 'an integer' : 'a number'
  const range = max === Infinity ? `of ${lo} or more` : `from ${lo} to ${hi}`
  return z.union([z.string(), z.number()]).transform((raw, ctx) => {
    const value = typeof raw === 'number' ? raw : raw.trim() === '' ? NaN : Number(raw)
    if (!Number.isFinite(value) || (options.integer && !Number.isInteger(value)) || value < min || value > max) {
      ctx.addIssue({ code: 'custom', message: `must be ${kind} ${range} (got ${show(raw)})` })
      return z.NEVER
    }
    return value
  })
}

/**
 * A duration such as 2s, 30s or 7d, in milliseconds: more than zero, or at least
 * `min` (written `minText` in the message), and at most `max` if given. `missing`
 * is the message when the value is absent and the flag is required.
 */
export function duration(options: { min?: number; minText?: string; max?: number; maxText?: string; missing?: string } = {}) {
  const { min, minText, max, maxText, missing } = options
  const range = max !== undefined ? ` from ${minText} to ${maxText}` : minText !== undefined ? ` of at least ${minText}` : ''
  return z.union([z.string(), z.number()], missing === undefined ? undefined : { error: missing }).transform((raw, ctx) => {
    const ms = typeof raw === 'number' ? raw : parseDuration(raw)
    if (ms === null || !Number.isFinite(ms) || (min === undefined ? ms <= 0 : ms < min) || (max !== undefined && ms > max)) {
      ctx.addIssue({ code: 'custom', message: `expected a duration${range} such as 2s, 10m or 7d (got ${show(raw)})` })
      return z.NEVER
    }
    return ms
  })
}

export const userId = z.guid({ error: (issue) => `expected a user id (a UUID), got ${show(issue.input)}` })

/** A job id: a UUID or a prefix of at least 4 characters, lower-cased. */
export const jobRef = z.string().transform((raw, ctx) => {
  const text = raw.trim().toLowerCase()
  if (isIdPrefix(text) && text.length >= MIN_PREFIX) return text
  ctx.addIssue({
    code: 'custom',
    message: isIdPrefix(text)
      ? `a job id prefix needs at least ${MIN_PREFIX} characters (got ${show(raw)})`
      : `expected a job id (a UUID, or its first ${MIN_PREFIX} or more characters), got ${show(raw)}`,
  })
  return z.NEVER
})

/** A dataset: an id, an id prefix or a name; resolved against the database later. */
export const datasetRef = z.string().trim().min(1, 'expected a dataset id or name')

export const json = flag('--json', 'print JSON (stable field names)', z.boolean().default(false))
export const yes = flag('-y, --yes', 'do not ask for confirmation (required without a terminal)', z.boolean().default(false))
export const dryRun = flag('--dry-run', 'show exactly what would change, change nothing', z.boolean().default(false))
/** A calendar month; each command reads it against its own time zone. */
export const month = flag('--month <YYYY-MM>', 'the month (default: this month, UTC)', z.string().optional())
/** How often a command that follows a job polls (a NOTIFY wakes it sooner). */
export const interval = flag('--interval <duration>', 'poll interval', duration({ min: 100, minText: '100ms' }), '2s')
/** --speed of the built-in simulator: simulated time per real time (simulator.speed's bounds). */
export const simulatorSpeed = boundedNumber({ min: 0.1, max: 100_000 })
