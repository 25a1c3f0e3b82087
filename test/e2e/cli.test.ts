import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { existsSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { randomBytes } from 'node:crypto'
import { runLora, tempDir } from '../helpers/cli.js'
import { COMMANDS } from '../../commands/registry.js'
import { pgUrl } from '../helpers/db.js'
import { openPostgres } from '../../src/db/postgres.js'
import { MIGRATIONS, LATEST_VERSION } from '../../src/db/migrate.js'

const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }

describe('the built lora binary', () => {
  let dir: { path: string; remove(): void }
  beforeAll(() => {
    dir = tempDir('lora-e2e-')
  })
  afterAll(() => dir.remove())

  it('prints its version and exits 0', async () => {
    const r = await runLora(['--version'], { cwd: dir.path })
    expect(r).toEqual({ code: 0, stdout: `${pkg.version}\n`, stderr: '' })
  })

  it('lists every subcommand of the product and the exit codes in --help', async () => {
    const r = await runLora(['--help'], { cwd: dir.path })
    expect(r.code).toBe(0)
    for (const spec of COMMANDS) expect(r.stdout).toMatch(new RegExp(`\\b${spec.path[spec.path.length - 1]}\\b`))
    expect(r.stdout).toContain('130  interrupted')
    // The pre-rendered root help is exactly what the parser renders.
    const rendered = await runLora(['--help', '--no-prerendered-help'], { cwd: dir.path, env: { COLUMNS: '80' } })
    expect(rendered.stdout).toBe(r.stdout)
    const group = await runLora(['jobs', '--help'], { cwd: dir.path })
    expect(group.stdout).toMatch(/watch \[options\] <id>/)
  })

  it('answers an unknown flag, an unknown command and a bare group with exit 2 and one line', async () => {
    const flag = await runLora(['db', 'status', '--bogus'], { cwd: dir.path })
    expect(flag).toMatchObject({ code: 2, stdout: '', stderr: "error: unknown option '--bogus'\n" })
    const command = await runLora(['jobz'], { cwd: dir.path })
    expect(command.code).toBe(2)
    expect(command.stderr).toMatch(/^error: unknown command 'jobz'/)
    const group = await runLora(['db'], { cwd: dir.path })
    expect(group.code).toBe(2)
    expect(existsSync(join(dir.path, '.lora'))).toBe(false)
  })

  it('has every subcommand of the product built: none is listed that would not run', () => {
    expect(COMMANDS.filter((c) => !c.load).map((c) => c.path.join(' '))).toEqual([])
  })

  it('creates, migrates and reports the embedded stack with no configuration at all; a read command creates none', async () => {
    const w = tempDir('lora-e2e-embedded-')
    try {
      const before = await runLora(['db', 'status', '--json'], { cwd: w.path })
      expect(before).toEqual({
        code: 2,
        stdout: '',
        stderr:
          `error: No lora stack found in ${w.path} or any folder above it (looked for .lora/db).\n` +
          `hint: Create one here with \`lora local start\` or \`lora db migrate\` (it goes in ${join(w.path, '.lora')}), or cd into a project that has one.\n`,
      })
      expect(existsSync(join(w.path, '.lora'))).toBe(false)
      // The local service migrates the stack it creates: `db migrate` finds it current.
      const migrated = await runLora(['db', 'migrate'], { cwd: w.path })
      expect(migrated).toMatchObject({ code: 0, stdout: `schema is current (version ${LATEST_VERSION}); nothing to apply\n` })
      const after = await runLora(['db', 'status'], { cwd: w.path })
      expect(after.code).toBe(0)
      expect(after.stdout.split('\n')[0]).toBe('version\tname\tapplied_at')
      expect(after.stdout.split('\n').slice(1, -1).map((l) => l.split('\t').slice(0, 2).join(' '))).toEqual(MIGRATIONS.map((m) => `${m.version} ${m.name}`))
      expect(after.stderr).toBe('schema is current\n')
      expect(existsSync(join(w.path, '.lora', 'db', 'pgdata'))).toBe(true)
      const stopped = await runLora(['local', 'stop'], { cwd: w.path })
      expect(stopped.code).toBe(0)
      expect(stopped.stderr).toMatch(/^local service stopped \(pid \d+\)\n$/)
      expect(existsSync(join(w.path, '.lora', 'db', 'db.lock'))).toBe(false)
    } finally {
      w.remove()
    }
  })

  it('rejects a malformed .lorarc with one sentence naming file and key, exit 2, nothing written', async () => {
    const w = tempDir('lora-e2e-rc-')
    try {
      writeFileSync(join(w.path, '.lorarc'), 'profiles:\n  default:\n    budget: { monthlyUsd: -5 }\n')
      const r = await runLora(['db', 'migrate'], { cwd: w.path })
      expect(r.code).toBe(2)
      expect(r.stderr).toBe(
        `error: ${join(w.path, '.lorarc')}: profiles.default.budget.monthlyUsd must be greater than 0, got -5.\n` +
          'hint: See .lorarc.example for every key and what it expects.\n',
      )
      expect(existsSync(join(w.path, '.lora'))).toBe(false)
      writeFileSync(join(w.path, '.lorarc'), 'profiles:\n  default:\n    budget: { monthlyUsd: 50 }\n')
      const unknown = await runLora(['db', 'status', '--profile', 'prod'], { cwd: w.path })
      expect(unknown.code).toBe(2)
      expect(unknown.stderr.split('\n')[0]).toBe('error: Unknown profile "prod" (profiles defined: default).')
    } finally {
      w.remove()
    }
  })

  it('says an unreachable database is unreachable, exit 1, without the password or a stack trace', async () => {
    const r = await runLora(['db', 'status'], { cwd: dir.path, env: { DATABASE_URL: 'postgres://lora:hunter2-secret@127.0.0.1:1/lora' } })
    expect(r.code).toBe(1)
    expect(r.stderr.split('\n')[0]).toBe('error: Could not reach the database at 127.0.0.1:1: connection refused.')
    expect(r.stderr).not.toContain('hunter2-secret')
    expect(r.stderr).not.toMatch(/\n\s+at /)
    const verbose = await runLora(['db', 'status', '--verbose'], { cwd: dir.path, env: { DATABASE_URL: 'postgres://lora:hunter2-secret@127.0.0.1:1/lora' } })
    expect(verbose.stderr).toMatch(/\n\s+at /)
    expect(verbose.stderr).not.toContain('hunter2-secret')
  })

  it('shows the configuration with its sources and secrets redacted', async () => {
    const r = await runLora(['config', 'show', '--json'], {
      cwd: dir.path,
      env: { DATABASE_URL: 'postgres://lora:hunter2-secret@db.test:5432/lora', GPU_CLUSTER_API_URL: 'https://gpu.test', GPU_CLUSTER_API_KEY: 'gpu-secret-key' },
    })
    expect(r.code).toBe(0)
    expect(r.stdout).not.toContain('hunter2-secret')
    expect(r.stdout).not.toContain('gpu-secret-key')
    const report = JSON.parse(r.stdout)
    expect(report.values).toEqual(
      expect.arrayContaining([
        { key: 'database.url', value: 'postgres://lora:***@db.test:5432/lora', source: 'env DATABASE_URL' },
        { key: 'clusters.primary.apiKey', value: '***', source: 'env GPU_CLUSTER_API_KEY' },
      ]),
    )
    const check = await runLora(['config', 'check'], { cwd: dir.path, env: { DATABASE_URL: 'postgres://db.test/lora' } })
    expect(check.code).toBe(0)
    expect(check.stdout).toContain('not configured: storage')
  })

  describe.skipIf(!pgUrl)('against a real Postgres server', () => {
    it('migrates an empty database and then reports it current', async () => {
      // A name of its own, dropped whatever happens: reruns and parallel runs never meet one left behind.
      const name = `e2e_migrate_${randomBytes(6).toString('hex')}`
      const admin = await openPostgres({ url: pgUrl, max: 1 })
      try {
        await admin.query(`CREATE DATABASE ${name}`)
        const url = pgUrl.replace(/\/postgres$/, `/${name}`)
        const before = await runLora(['db', 'status', '--database-url', url], { cwd: dir.path })
        expect(before.code).toBe(1)
        expect(before.stderr).toContain('the database has no lora schema yet: run `lora db migrate`')
        const migrated = await runLora(['db', 'migrate', '--json'], { cwd: dir.path, env: { DATABASE_URL: url } })
        expect(JSON.parse(migrated.stdout)).toEqual({ applied: MIGRATIONS.map((m) => ({ version: m.version, name: m.name })), version: LATEST_VERSION, buckets: null })
        const after = await runLora(['db', 'status', '--json'], { cwd: dir.path, env: { DATABASE_URL: url } })
        expect(after.code).toBe(0)
        expect(JSON.parse(after.stdout).drift).toEqual([])
      } finally {
        await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`)
        await admin.close()
      }
    })
  })
})
