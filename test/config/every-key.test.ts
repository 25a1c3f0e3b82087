import { afterEach, describe, expect, it } from 'vitest'
import { mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { z } from 'zod'
import { loadConfig } from '../../src/config/load.js'
import { Duration, ENV_KEYS, FLAG_KEYS, ProfileFile } from '../../src/config/schema.js'
import { clearSecrets } from '../../src/redact.js'
import { ExitCode, UsageError } from '../../src/errors.js'
import { run as configCheck } from '../../commands/config-check.js'
import { createContext } from '../../src/context.js'
import { createTestIO } from '../../src/io/streams.js'
import { FakeClock } from '../../src/clock.js'
import { tempDir } from '../helpers/cli.js'

/**
 * Every key of a profile, read from the schema itself, so that a key added later
 * is tested here without anyone remembering to.
 */
type Kind = 'number' | 'boolean' | 'duration' | 'enum' | 'shaped text' | 'free text' | 'list'
interface Leaf {
  path: string[]
  kind: Kind
  required: boolean
}

interface Def {
  type: string
  innerType?: z.ZodType
  shape?: Record<string, z.ZodType>
  valueType?: z.ZodType
  out?: z.ZodType
  checks?: unknown[]
}
const defOf = (schema: z.ZodType) => (schema as unknown as { def: Def }).def

function leaves(schema: z.ZodType, path: string[] = [], required = true): Leaf[] {
  const def = defOf(schema)
  if (schema === Duration) return [{ path, kind: 'duration', required }]
  switch (def.type) {
    case 'optional':
      return leaves(def.innerType!, path, false)
    case 'object':
      return Object.entries(def.shape!).flatMap(([k, v]) => leaves(v, [...path, k]))
    case 'record':
      // A name that every record's key pattern takes (clusters, GPU types).
      return leaves(def.valueType!, [...path, 'x1'])
    case 'pipe':
      return leaves(def.out!, path, required)
    case 'number':
      return [{ path, kind: 'number', required }]
    case 'boolean':
      return [{ path, kind: 'boolean', required }]
    case 'enum':
      return [{ path, kind: 'enum', required }]
    case 'array':
      return [{ path, kind: 'list', required }]
    case 'string': {
      // A refinement gives text a shape (a URL, a zone); a length alone does not.
      const shaped = (def.checks ?? []).some((c) => (c as { _zod: { def: { check: string } } })._zod.def.check === 'custom')
      return [{ path, kind: shaped ? 'shaped text' : 'free text', required }]
    }
    default:
      throw new Error(`the test does not know schemas of type ${def.type} (at ${path.join('.')}): teach it`)
  }
}

/** A value of the right kind that is wrong: as a file writes it, and as text (env, flags). */
const BAD: Record<Kind, { file: unknown; text: string | null }> = {
  number: { file: 'abc', text: 'abc' },
  boolean: { file: 'maybe', text: 'maybe' },
  duration: { file: 'soon', text: 'soon' },
  enum: { file: 'loud', text: 'loud' },
  'shaped text': { file: 'not-valid', text: 'not-valid' },
  // Any text is a valid API key or folder: only a file can give it the wrong type.
  'free text': { file: 42, text: null },
  list: { file: 'x', text: null },
}
const GOOD: Partial<Record<Kind, unknown>> = { 'shaped text': 'https://example.test', 'free text': 'k' }

const ALL = leaves(ProfileFile)
const keyOf = (leaf: Leaf) => leaf.path.join('.')
const leafAt = (key: string) => ALL.find((l) => keyOf(l) === key.replace(/^clusters\.[^.]+\./, 'clusters.x1.'))

function setAt(target: Record<string, unknown>, path: string[], value: unknown) {
  let at = target
  for (const k of path.slice(0, -1)) at = (at[k] ??= {}) as Record<string, unknown>
  at[path.at(-1)!] = value
}

describe('every configuration key refuses a bad value from every source, exit 2, naming source, key and expectation', () => {
  const dirs: { remove(): void }[] = []
  afterEach(() => {
    for (const d of dirs.splice(0)) d.remove()
    clearSecrets()
  })
  const workspace = () => {
    const d = tempDir('lora-config-keys-')
    dirs.push(d)
    mkdirSync(join(d.path, 'home'))
    return d.path
  }
  const failure = async (dir: string, env: Record<string, string> = {}, flags = {}) => {
    const error = await loadConfig({ cwd: dir, env, homeDir: join(dir, 'home'), flags }).then(() => null, (e: unknown) => e)
    expect(error).toBeInstanceOf(UsageError)
    expect((error as UsageError).exitCode).toBe(ExitCode.usage)
    return (error as UsageError).message
  }
  const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')

  it('finds every key of the schema (the walk itself is sound)', () => {
    expect(ALL.length).toBeGreaterThan(40)
    expect(ALL.find((l) => keyOf(l) === 'budget.monthlyUsd')).toEqual({ path: ['budget', 'monthlyUsd'], kind: 'number', required: false })
    expect(ALL.find((l) => keyOf(l) === 'clusters.x1.url')).toMatchObject({ kind: 'shaped text', required: true })
  })

  it('reproduces the NaN budget: LORA_MONTHLY_BUDGET_USD=abc is refused, and config check does not say ok', async () => {
    const dir = workspace()
    expect(await failure(dir, { LORA_MONTHLY_BUDGET_USD: 'abc' })).toBe('env LORA_MONTHLY_BUDGET_USD: budget.monthlyUsd must be a number, got "abc".')
    const t = createTestIO({ tty: false, env: {} })
    const ctx = createContext({ io: t.io, clock: new FakeClock(), cwd: dir, env: { HOME: join(dir, 'home'), LORA_MONTHLY_BUDGET_USD: 'abc' } })
    await expect(configCheck({ json: false }, ctx)).rejects.toThrow('env LORA_MONTHLY_BUDGET_USD: budget.monthlyUsd must be a number, got "abc".')
    expect(t.stdout()).toBe('')
    // A number the schema refuses for its bounds is refused from the environment too.
    expect(await failure(dir, { LORA_MONTHLY_BUDGET_USD: '-5' })).toBe('env LORA_MONTHLY_BUDGET_USD: budget.monthlyUsd must be greater than 0, got "-5".')
    const { config } = await loadConfig({ cwd: dir, env: { LORA_MONTHLY_BUDGET_USD: ' 150.5 ' }, homeDir: join(dir, 'home'), flags: {} })
    expect(config.budget.monthlyUsd).toBe(150.5)
  })

  for (const leaf of ALL) {
    const key = keyOf(leaf)
    it(`file: ${key} (${leaf.kind})`, async () => {
      const dir = workspace()
      const profile: Record<string, unknown> = {}
      // The required keys beside it are given, so that the bad one is what fails.
      for (const other of ALL) {
        if (other.required && other !== leaf && other.path.slice(0, -1).join('.') === leaf.path.slice(0, -1).join('.')) {
          setAt(profile, other.path, GOOD[other.kind])
        }
      }
      setAt(profile, leaf.path, BAD[leaf.kind].file)
      const rc = join(dir, '.lorarc')
      writeFileSync(rc, JSON.stringify({ profiles: { default: profile } }))
      expect(await failure(dir)).toMatch(new RegExp(`^${escape(rc)}: profiles\\.default\\.${escape(key)} must [^.]+.*\\.$`))
    })
  }

  for (const [name, key] of Object.entries(ENV_KEYS)) {
    const leaf = leafAt(key)
    it(`env ${name}: ${key}`, async () => {
      expect(leaf, `${name} sets ${key}, which the schema does not have`).toBeDefined()
      const bad = BAD[leaf!.kind].text
      if (bad === null) {
        // Nothing in text is wrong for it; it is a key (or a folder) of any spelling.
        expect(leaf!.kind).toBe('free text')
        return
      }
      const dir = workspace()
      expect(await failure(dir, { [name]: bad })).toMatch(new RegExp(`^env ${name}: ${escape(key)} must [^.]+.*\\.$`))
    })
  }

  for (const [flag, key] of Object.entries(FLAG_KEYS)) {
    const leaf = leafAt(key)
    it(`flag ${flag}: ${key}`, async () => {
      const bad = BAD[leaf!.kind].text!
      const flags = { [flag.replace(/^--/, '').replace(/-(.)/g, (_, c: string) => c.toUpperCase())]: bad }
      expect(await failure(workspace(), {}, flags)).toMatch(new RegExp(`^flag ${flag}: ${escape(key)} must [^.]+.*\\.$`))
    })
  }
})
