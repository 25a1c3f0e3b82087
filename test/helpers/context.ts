import type { ResolvedConfig } from '../../src/config/schema.js'
import { DEFAULTS } from '../../src/config/schema.js'
import { createContext, type Context } from '../../src/context.js'
import { createTestIO } from '../../src/io/streams.js'
import { FakeClock, type Clock } from '../../src/clock.js'
import type { Db } from '../../src/db/types.js'
import type { Prompter } from '../../src/io/prompter.js'

/** A resolved configuration for tests, embedded-like unless overridden. */
export function testConfig(overrides: Partial<ResolvedConfig> = {}, stateDir = '/nonexistent/.lora'): ResolvedConfig {
  return {
    profile: 'test',
    embedded: true,
    stateDir,
    database: { url: 'embedded:test', embedded: true, dir: `${stateDir}/db`, pooler: false },
    storage: { kind: 'folder', dir: `${stateDir}/storage`, quotaBytes: 100 * 1024 ** 3 },
    clusters: [],
    breaker: { ...DEFAULTS.breaker },
    budget: { ...DEFAULTS.budget },
    training: { ...DEFAULTS.training },
    gpuPrices: { ...DEFAULTS.gpuPrices },
    sources: {},
    ...overrides,
  }
}

export interface TestContext {
  ctx: Context
  stdout(): string
  stderr(): string
  clock: Clock
}

/**
 * A context for calling a command's run() directly: captured output (a terminal or a
 * pipe), a real database handed in, a fake clock unless one is given.
 */
export function testContext(options: {
  db?: Db
  config?: ResolvedConfig
  tty?: boolean
  /** --wide */
  wide?: boolean
  clock?: Clock
  env?: Record<string, string | undefined>
  cwd?: string
  signal?: AbortSignal
  /** The terminal's answers (test/jobs/fixtures.ts scriptedTerminal); asked only when tty. */
  prompter?: Prompter
} = {}): TestContext {
  const t = createTestIO({ tty: options.tty ?? false, env: options.env ?? {}, wide: options.wide ?? false })
  const clock = options.clock ?? new FakeClock()
  const ctx = createContext({
    io: t.io,
    clock,
    env: options.env ?? {},
    cwd: options.cwd ?? '/nonexistent',
    config: options.config ?? testConfig(),
    ...(options.db ? { db: options.db } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.prompter ? { prompter: options.prompter } : {}),
  })
  return { ctx, stdout: t.stdout, stderr: t.stderr, clock }
}
