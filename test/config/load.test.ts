import { afterEach, describe, expect, it } from 'vitest'
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { loadConfig } from '../../src/config/load.js'
import { describeConfig } from '../../src/config/describe.js'
import { clearSecrets, redact } from '../../src/redact.js'
import { UsageError } from '../../src/errors.js'
import { tempDir } from '../helpers/cli.js'

describe('configuration', () => {
  const dirs: { remove(): void }[] = []
  afterEach(() => {
    for (const d of dirs.splice(0)) d.remove()
    clearSecrets()
  })
  const workspace = () => {
    const d = tempDir('lora-config-')
    dirs.push(d)
    const home = join(d.path, 'home')
    const project = join(d.path, 'project', 'sub', 'dir')
    mkdirSync(home, { recursive: true })
    mkdirSync(project, { recursive: true })
    return { root: d.path, home, project }
  }
  const load = (w: ReturnType<typeof workspace>, env: Record<string, string> = {}, flags = {}) =>
    loadConfig({ cwd: w.project, env, homeDir: w.home, flags })

  it('runs on the embedded profile with no configuration at all', async () => {
    const w = workspace()
    const { config, files } = await load(w)
    expect(files).toEqual([])
    expect(config.profile).toBe('default')
    expect(config.embedded).toBe(true)
    expect(config.database).toMatchObject({ embedded: true, dir: join(w.project, '.lora', 'db') })
    expect(config.storage).toMatchObject({ kind: 'folder', dir: join(w.project, '.lora', 'storage') })
    expect(config.clusters.map((c) => c.url)).toEqual(['simulator'])
    expect(config.breaker).toEqual({ failureThreshold: 3, windowMs: 600_000, cooldownMs: 1_800_000 })
    expect(config.budget.monthlyUsd).toBe(200)
  })

  it('finds the nearest .lorarc upwards and ranks flags over environment over .lorarc over the user file', async () => {
    const w = workspace()
    mkdirSync(join(w.home, '.config', 'lora'), { recursive: true })
    writeFileSync(join(w.home, '.config', 'lora', 'config.yaml'), `
profile: prod
profiles:
  prod:
    database: { url: postgres://user@user-file/db }
    budget: { monthlyUsd: 100 }
    breaker: { cooldown: 45m }
`)
    writeFileSync(join(w.root, 'project', '.lorarc'), `
profiles:
  prod:
    database: { url: postgres://user@lorarc/db }
    budget: { monthlyUsd: 300 }
    clusters:
      main: { url: https://gpu.example.test, apiKey: env:GPU_KEY, requestTimeout: 45s }
`)
    const env = { GPU_KEY: 'k-123456', DATABASE_URL: 'postgres://user@env/db' }
    const { config, files } = await load(w, env)
    expect(files).toEqual([join(w.root, 'project', '.lorarc'), join(w.home, '.config', 'lora', 'config.yaml')])
    expect(config.profile).toBe('prod')
    expect(config.database!.url).toBe('postgres://user@env/db')
    expect(config.sources['database.url']).toBe('env DATABASE_URL')
    expect(config.budget.monthlyUsd).toBe(300)
    expect(config.sources['budget.monthlyUsd']).toBe(join(w.root, 'project', '.lorarc'))
    expect(config.breaker.cooldownMs).toBe(45 * 60_000)
    expect(config.clusters).toEqual([
      { name: 'main', url: 'https://gpu.example.test', apiKey: 'k-123456', connectTimeoutMs: 5000, requestTimeoutMs: 45_000 },
    ])
    expect(config.sources['clusters.main.apiKey']).toBe(`${join(w.root, 'project', '.lorarc')} (env GPU_KEY)`)
    // A real database, no storage configured: no silent fall-back to the folder.
    expect(config.embedded).toBe(false)
    expect(config.storage).toBeNull()

    const flagged = await load(w, env, { databaseUrl: 'postgres://user@flag/db', profile: 'prod' })
    expect(flagged.config.database!.url).toBe('postgres://user@flag/db')
    expect(flagged.config.sources['database.url']).toBe('flag --database-url')
  })

  it('lets the environment alone describe a whole profile', async () => {
    const w = workspace()
    const { config } = await load(w, {
      LORA_PROFILE: 'ci',
      DATABASE_URL: 'postgres://lora:s3cret-pass@db.internal:5432/lora',
      SUPABASE_URL: 'https://abc.supabase.co',
      SUPABASE_SERVICE_ROLE_KEY: 'service-role-key-value',
      GPU_CLUSTER_API_URL: 'https://gpu.example.test',
      GPU_CLUSTER_API_KEY: 'gpu-key-value',
    })
    expect(config.profile).toBe('ci')
    expect(config.storage).toMatchObject({ kind: 'supabase', url: 'https://abc.supabase.co' })
    expect(config.clusters[0]).toMatchObject({ name: 'primary', url: 'https://gpu.example.test' })
    // Every secret is redacted wherever it would be printed.
    const shown = JSON.stringify(describeConfig({ config, files: [], warnings: [] }))
    for (const secret of ['s3cret-pass', 'service-role-key-value', 'gpu-key-value']) expect(shown).not.toContain(secret)
    expect(redact('failed: postgres://lora:s3cret-pass@db.internal:5432/lora')).toBe('failed: postgres://lora:***@db.internal:5432/lora')
    expect(redact('key gpu-key-value leaked')).toBe('key *** leaked')
  })

  it('detects a Supabase transaction pooler and turns prepared statements and LISTEN off', async () => {
    const w = workspace()
    const { config } = await load(w, { DATABASE_URL: 'postgres://postgres.ref:pw@aws-0-eu.pooler.supabase.com:6543/postgres' })
    expect(config.database!.pooler).toBe(true)
  })

  const failing = async (w: ReturnType<typeof workspace>, env: Record<string, string> = {}, flags = {}) => {
    const error = await load(w, env, flags).then(() => null, (e: unknown) => e)
    expect(error).toBeInstanceOf(UsageError)
    return (error as UsageError).message
  }

  it('names the file, the key and the expectation of an invalid .lorarc', async () => {
    const w = workspace()
    const rc = join(w.project, '.lorarc')
    writeFileSync(rc, 'profiles:\n  prod:\n    database: { pooler: "yes" }\n')
    expect(await failing(w)).toBe(`${rc}: profiles.prod.database.pooler must be a boolean, got "yes".`)
    writeFileSync(rc, 'profiles:\n  prod:\n    databse: {}\n')
    expect(await failing(w)).toBe(`${rc}: profiles.prod has an unknown key "databse".`)
    writeFileSync(rc, 'profiles:\n  prod:\n    breaker: { window: soon }\n')
    expect(await failing(w)).toBe(`${rc}: profiles.prod.breaker.window must be a duration such as 30s, 10m or 2h, got "soon".`)
    writeFileSync(rc, 'profiles: [unclosed\n')
    expect(await failing(w)).toMatch(new RegExp(`^The configuration file ${rc} is not valid YAML or JSON: .+\\.$`))
  })

  it('reads the simulator\'s speed from the profile or LORA_SIMULATOR_SPEED (6 by default), through the schema, exit 2 when it is not a speed', async () => {
    const w = workspace()
    expect((await load(w)).config.simulator).toEqual({ speed: 6 })
    const rc = join(w.project, '.lorarc')
    writeFileSync(rc, 'profile: dev\nprofiles:\n  dev:\n    simulator: { speed: 30 }\n')
    const fromFile = await load(w)
    expect(fromFile.config.simulator).toEqual({ speed: 30 })
    expect(fromFile.config.sources['simulator.speed']).toBe(rc)
    const fromEnv = await load(w, { LORA_SIMULATOR_SPEED: '120' })
    expect(fromEnv.config.simulator).toEqual({ speed: 120 })
    expect(fromEnv.config.sources['simulator.speed']).toBe('env LORA_SIMULATOR_SPEED')
    const error = await load(w, { LORA_SIMULATOR_SPEED: 'fast' }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(UsageError)
    expect(error).toMatchObject({ exitCode: 2, message: 'env LORA_SIMULATOR_SPEED: simulator.speed must be a number, got "fast".' })
    expect(await failing(w, { LORA_SIMULATOR_SPEED: '0' })).toBe('env LORA_SIMULATOR_SPEED: simulator.speed must be greater than 0, got "0".')
    writeFileSync(rc, 'profile: dev\nprofiles:\n  dev:\n    simulator: { speed: -1 }\n')
    expect(await failing(w)).toBe(`${rc}: profiles.dev.simulator.speed must be greater than 0, got -1.`)
  })

  it('refuses an unknown profile, a missing env reference and a bad database URL', async () => {
    const w = workspace()
    writeFileSync(join(w.project, '.lorarc'), 'profiles:\n  prod:\n    clusters:\n      a: { url: "https://x.test", apiKey: "env:MISSING_KEY" }\n  staging: {}\n')
    expect(await failing(w, {}, { profile: 'nope' })).toBe('Unknown profile "nope" (profiles defined: prod, staging).')
    expect(await failing(w, {}, { profile: 'prod' })).toBe(
      `${join(w.project, '.lorarc')}: "clusters.a.apiKey" refers to the environment variable MISSING_KEY, which is not set.`,
    )
    expect(await failing(w, { DATABASE_URL: 'mysql://root:pw@h/db' })).toBe(
      'env DATABASE_URL: database.url must be a postgres:// URL or embedded[:DIR], got "mysql://root:***@h/db".',
    )
  })

  it('warns when a .lorarc readable by others holds a literal secret, not when it uses env:', async () => {
    const w = workspace()
    const rc = join(w.project, '.lorarc')
    writeFileSync(rc, 'profiles:\n  default:\n    clusters:\n      a: { url: "https://x.test", apiKey: "literal-key" }\n')
    chmodSync(rc, 0o644)
    expect((await load(w)).warnings).toEqual([
      `${rc} holds a literal secret at profiles.default.clusters.a.apiKey and is readable by group or others: chmod 600 it, or use "env:NAME".`,
    ])
    chmodSync(rc, 0o600)
    expect((await load(w)).warnings).toEqual([])
  })

  it('counts a password in database.url as a secret: warned about in a readable file, redacted everywhere', async () => {
    const w = workspace()
    const rc = join(w.project, '.lorarc')
    writeFileSync(rc, 'profiles:\n  default:\n    database: { url: "postgres://lora:Sup3r-Secret-Pw@db.abcdefgh.supabase.co:5432/postgres" }\n')
    chmodSync(rc, 0o644)
    expect((await load(w)).warnings).toEqual([
      `${rc} holds a literal secret at profiles.default.database.url and is readable by group or others: chmod 600 it, or use "env:NAME".`,
    ])
    expect(redact('failed: Sup3r-Secret-Pw')).toBe('failed: ***')
    // Without a password there is nothing secret in the URL.
    writeFileSync(rc, 'profiles:\n  default:\n    database: { url: "postgres://lora@db.abcdefgh.supabase.co:5432/postgres" }\n')
    expect((await load(w)).warnings).toEqual([])
  })

  it('refuses a key over plain http to another machine unless the profile sets allowInsecureHttp, exit 2', async () => {
    const w = workspace()
    expect(await failing(w, { DATABASE_URL: 'postgres://lora@127.0.0.1/postgres', GPU_CLUSTER_API_URL: 'http://gpu.example.com', GPU_CLUSTER_API_KEY: 'k-123456' })).toBe(
      'env GPU_CLUSTER_API_URL: clusters.primary.url is plain http to gpu.example.com, so its API key would cross the network unencrypted: use https, or set allowInsecureHttp: true in the profile.',
    )
    expect(await failing(w, { DATABASE_URL: 'postgres://lora@127.0.0.1/postgres', SUPABASE_URL: 'http://storage.example.com', SUPABASE_SERVICE_ROLE_KEY: 'srk-123456' })).toBe(
      'env SUPABASE_URL: storage.supabaseUrl is plain http to storage.example.com, so the service-role key would cross the network unencrypted: use https, or set allowInsecureHttp: true in the profile.',
    )
    // This machine, https, or no key at all: nothing to protect on the way.
    for (const env of <Record<string, string>[]>[
      { GPU_CLUSTER_API_URL: 'http://127.0.0.1:8080', GPU_CLUSTER_API_KEY: 'k-123456' },
      { GPU_CLUSTER_API_URL: 'https://gpu.example.com', GPU_CLUSTER_API_KEY: 'k-123456' },
      { GPU_CLUSTER_API_URL: 'http://gpu.example.com' },
    ]) {
      expect((await load(w, { DATABASE_URL: 'postgres://lora@127.0.0.1/postgres', ...env })).config.clusters).toHaveLength(1)
    }
    writeFileSync(join(w.project, '.lorarc'), 'profiles:\n  default:\n    allowInsecureHttp: true\n')
    const allowed = await load(w, { DATABASE_URL: 'postgres://lora@127.0.0.1/postgres', GPU_CLUSTER_API_URL: 'http://gpu.example.com', GPU_CLUSTER_API_KEY: 'k-123456' })
    expect(allowed.config.clusters[0]!.url).toBe('http://gpu.example.com')
  })

  it('reads the artifact limits: a size cap (default 5 GB) and the hosts besides the cluster\'s own', async () => {
    const { artifactLimits } = await import('../../src/config/schema.js')
    const w = workspace()
    const plain = await load(w, { DATABASE_URL: 'postgres://lora@127.0.0.1/postgres' })
    expect(artifactLimits(plain.config, ['https://gpu.example.com/api'])).toEqual({ maxBytes: 5 * 1024 ** 3, allowedHosts: ['gpu.example.com'] })
    writeFileSync(join(w.project, '.lorarc'), 'profiles:\n  default:\n    artifacts: { maxSizeGb: 0.5, allowedHosts: [cdn.example.com, "10.0.0.7:9000"] }\n')
    const set = await load(w, { DATABASE_URL: 'postgres://lora@127.0.0.1/postgres' })
    expect(artifactLimits(set.config, ['http://127.0.0.1:8080'])).toEqual({ maxBytes: 0.5 * 1024 ** 3, allowedHosts: ['127.0.0.1:8080', 'cdn.example.com', '10.0.0.7:9000'] })
  })

  it('warns of plaintext to a remote database only when sslmode=disable says so, and refuses an unknown sslmode', async () => {
    const w = workspace()
    expect((await load(w, { DATABASE_URL: 'postgres://lora@db.example.com/postgres' })).warnings).toEqual([])
    expect((await load(w, { DATABASE_URL: 'postgres://lora@127.0.0.1/postgres?sslmode=disable' })).warnings).toEqual([])
    expect((await load(w, { DATABASE_URL: 'postgres://lora@db.example.com/postgres?sslmode=disable' })).warnings).toEqual([
      'env DATABASE_URL: database.url sets sslmode=disable for db.example.com: the connection, password included, crosses the network unencrypted.',
    ])
    expect(await failing(w, { DATABASE_URL: 'postgres://lora@db.example.com/postgres?sslmode=on' })).toBe(
      'database.url has sslmode=on: expected one of disable, allow, prefer, require, verify-ca, verify-full.',
    )
  })
})
