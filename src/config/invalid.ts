import type { z } from 'zod'
import { UsageError } from '../errors.js'

type Issue = z.core.$ZodIssue

/** What a key expects, read from the schema's issue, as the end of "KEY ...". */
function expectation(issue: Issue, value: unknown): string {
  switch (issue.code) {
    case 'invalid_type':
      if (value === undefined) return 'is not set'
      if (issue.expected === 'int') return 'must be a whole number'
      return `must be ${/^[aeiou]/.test(issue.expected) ? 'an' : 'a'} ${issue.expected}`
    case 'too_small':
      if (issue.origin !== 'number') return 'must not be empty'
      return `must be ${issue.inclusive ? 'at least' : 'greater than'} ${issue.minimum}`
    case 'too_big':
      return `must be ${issue.inclusive ? 'at most' : 'less than'} ${issue.maximum}`
    case 'invalid_value':
      return `must be one of ${issue.values.map(String).join(', ')}`
    case 'unrecognized_keys':
      return `has ${issue.keys.length > 1 ? 'unknown keys' : 'an unknown key'} ${issue.keys.map((k) => `"${k}"`).join(', ')}`
    case 'invalid_key':
      return issue.issues[0] ? expectation(issue.issues[0], undefined).replace('is not set', 'has an invalid name') : 'has an invalid name'
    default:
      // Refinements say "must be ..." or, shared with flags, "expected ..., got ...":
      // the value is shown once, by invalidConfig.
      return issue.message
        .replace(/^Invalid input: /, '')
        .replace(/^expected /, 'must be ')
        .replace(/, got [\s\S]*$/, '')
  }
}

/** A value as the error shows it: text quoted, a URL's password masked, a secret not at all. */
function shown(value: unknown, secret: boolean): string {
  if (secret || value === undefined || (typeof value === 'object' && value !== null)) return ''
  return `, got ${JSON.stringify(value).replace(/:[^:@/]*@/, ':***@')}`
}

/**
 * The error of a bad configuration value, from whichever source: one sentence that
 * names the source, the key and what was expected (exit 2).
 */
export function invalidConfig(source: string, key: string, issue: Issue, value: unknown, opts: { secret: boolean; hint?: string }): UsageError {
  const what = issue.code === 'unrecognized_keys' || issue.code === 'invalid_key' ? undefined : value
  return new UsageError(`${source}: ${key || '(top level)'} ${expectation(issue, what)}${shown(what, opts.secret)}.`, {
    code: 'config_invalid',
    hint: opts.hint ?? 'See .lorarc.example for every key and what it expects.',
  })
}
