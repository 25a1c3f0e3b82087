import type { Queryable } from './db/types.js'
import { LoraError, UsageError } from './errors.js'

/**
 * Job and dataset ids as people type them: the full UUID, or a unique prefix of at
 * least 4 characters, as git and docker take them. Datasets are also taken by name.
 * Tables show the first 8 characters (SHORT_ID).
 */

export const SHORT_ID = 8
export const MIN_PREFIX = 4
const TEMPLATE = 'xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx'
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/
/** Matches shown when a prefix is ambiguous. */
const SHOWN = 5


export function isUuid(text: string): boolean {
  return UUID.test(text.toLowerCase())
}

/** Whether text is the start of a UUID written the usual way (dashes where the UUID has them). */
export function isIdPrefix(text: string): boolean {
  if (text.length === 0 || text.length > TEMPLATE.length) return false
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!.toLowerCase()
    if (TEMPLATE[i] === '-' ? c !== '-' : !/[0-9a-f]/.test(c)) return false
  }
  return true
}

/** The lowest and highest UUIDs that start with the prefix: a range the primary key's index answers. */
export function prefixRange(prefix: string): [string, string] {
  const p = prefix.toLowerCase()
  const fill = (digit: string) => p + [...TEMPLATE.slice(p.length)].map((c) => (c === '-' ? '-' : digit)).join('')
  return [fill('0'), fill('f')]
}

/** Exit 2, listing the first matches (the lookups fetch one more than they show, to know there are more). */
function ambiguous(subject: string, kind: string, lines: string[]): UsageError {
  const count = lines.length > SHOWN ? `more than ${SHOWN}` : String(lines.length)
  const more = lines.length > SHOWN ? '\n  ...' : ''
  return new UsageError(`${subject} matches ${count} ${kind}s:\n  ${lines.slice(0, SHOWN).join('\n  ')}${more}`, {
    code: 'ambiguous_id',
    hint: 'Pass more characters of the id.',
  })
}

/** The full id of the job a UUID or prefix names; a prefix nothing starts with is "not found" (exit 1). */
export async function resolveJobId(q: Queryable, given: string): Promise<string> {
  const text = given.toLowerCase()
  if (isUuid(text)) return text
  const { findJobsByIdRange } = await import('./db/queries/ids.js')
  const [low, high] = prefixRange(text)
  const matches = await findJobsByIdRange(q, low, high, SHOWN + 1)
  if (matches.length === 1) return matches[0]!.id
  if (matches.length === 0) {
    throw new LoraError(`No training job has an id starting with "${text}".`, { code: 'job_not_found', hint: 'List them with `lora jobs list`.' })
  }
  throw ambiguous(`The job id prefix "${text}"`, 'job', matches.map((m) => `${m.id}  ${m.status}  created ${m.created_at.toISOString()}`))
}

/**
 * The full id of the dataset an id, an id prefix or a name names. A name is looked
 * up among one user's datasets when userId is given, otherwise among everyone's.
 */
export async function resolveDatasetId(q: Queryable, given: string, options: { userId?: string; includeDeleted?: boolean } = {}): Promise<string> {
  const text = given.trim()
  if (isUuid(text)) return text.toLowerCase()
  const { findDatasetsByIdRange, findDatasetsNamed } = await import('./db/queries/ids.js')
  const named = await findDatasetsNamed(q, text, { ...(options.userId ? { userId: options.userId } : {}), includeDeleted: options.includeDeleted ?? false, limit: SHOWN + 1 })
  const prefix = isIdPrefix(text)
  if (named.length === 0 && prefix && text.length < MIN_PREFIX) {
    throw new UsageError(`No dataset is named "${text}", and a dataset id prefix needs at least ${MIN_PREFIX} characters.`, { code: 'id_too_short' })
  }
  const byId = prefix && text.length >= MIN_PREFIX ? await findDatasetsByIdRange(q, ...prefixRange(text), SHOWN + 1) : []
  const seen = new Map([...named, ...byId].map((d) => [d.id, d]))
  const matches = [...seen.values()]
  if (matches.length === 1) return matches[0]!.id
  if (matches.length === 0) {
    const owner = options.userId ? `User ${options.userId} has no dataset` : 'No dataset is'
    throw new LoraError(prefix ? `No dataset has an id starting with "${text}" or is named so.` : `${owner} named "${text}".`, {
      code: 'dataset_not_found',
      hint: 'List them with `lora datasets list`.',
    })
  }
  throw ambiguous(`"${text}"`, 'dataset', matches.map((d) => `${d.id}  ${d.name}  ${d.deleted_at ? 'deleted' : d.status}`))
}
