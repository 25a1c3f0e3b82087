import { afterEach, describe, expect, it } from 'vitest'
import { randomUUID } from 'node:crypto'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { backends, type TestDb } from '../helpers/db.js'
import { testConfig, testContext, type TestContext } from '../helpers/context.js'
import { daemonHarness, type DaemonHarness } from '../helpers/daemon.js'
import { FakeClock } from '../../src/clock.js'
import { runHealth } from '../../src/health/run.js'
import { runDaemon } from '../../src/daemon/daemon.js'
import { SupabaseStorage } from '../../src/storage/supabase.js'
import { FolderStorage } from '../../src/storage/folder.js'
import type { LoraError } from '../../src/errors.js'
import * as migrateCommand from '../../commands/db-migrate.js'
import * as upload from '../../commands/datasets-upload.js'
import { standInFixture, TUS_CHUNK } from './supabase-standin.js'

const KEY = 'service-role-key-for-the-stand-in'
const NOW = '2026-04-01T10:00:00.000Z'

const { cleanups, workDir, standIn } = standInFixture(KEY, 'lora-fresh-')

function supabaseContext(db: TestDb | undefined, url: string, work: string, options: { signal?: AbortSignal } = {}): TestContext {
  const t = testContext({
    ...(db ? { db } : {}),
    clock: new FakeClock(NOW),
    cwd: work,
    config: testConfig({ storage: { kind: 'supabase', url, serviceRoleKey: KEY, quotaBytes: 10 * 1024 ** 3 } }, join(work, '.lora')),
    env: { LORA_ACTOR: 'ops@test' },
    ...(options.signal ? { signal: options.signal } : {}),
  })
  cleanups.push(() => t.ctx.close())
  return t
}

const chatLine = (i: number) => JSON.stringify({ messages: [{ role: 'user', content: `question ${i} ${'q'.repeat(200)}` }, { role: 'assistant', content: `answer ${i}` }] })

const pglite = backends[0]!

describe('a fresh Supabase project (local stand-in of the Storage API: no Supabase server runs here)', () => {
  it('gets its three buckets, private, from `db migrate`, and health\'s bucket check passes after it', async () => {
    const s = await standIn()
    const db = await pglite.open({ migrated: false })
    cleanups.push(() => db.close())
    const work = workDir()
    const before = supabaseContext(db, s.url, work)
    const report = await runHealth(before.ctx, { checks: ['buckets'] })
    expect(report.checks[0]).toMatchObject({ name: 'buckets', status: 'critical' })

    const t = supabaseContext(db, s.url, work)
    await migrateCommand.run({ json: true }, t.ctx)
    expect(JSON.parse(t.stdout())).toMatchObject({ buckets: ['lora-datasets', 'lora-models', 'lora-validation-images'] })
    expect([...s.buckets].sort()).toEqual(['lora-datasets', 'lora-models', 'lora-validation-images'])
    expect(s.violations).toEqual([])

    const after = supabaseContext(db, s.url, work)
    const healthy = await runHealth(after.ctx, { checks: ['buckets'] })
    expect(healthy.checks[0]).toMatchObject({ name: 'buckets', status: 'ok' })
  })

  it('says the schema is migrated but the buckets are not when storage refuses, exit 1', async () => {
    const s = await standIn()
    const db = await pglite.open({ migrated: false })
    cleanups.push(() => db.close())
    const t = testContext({
      db,
      clock: new FakeClock(NOW),
      config: testConfig({ storage: { kind: 'supabase', url: s.url, serviceRoleKey: 'a-wrong-key', quotaBytes: 1 } }, join(workDir(), '.lora')),
    })
    cleanups.push(() => t.ctx.close())
    const error = (await migrateCommand.run({ json: false }, t.ctx).catch((e: unknown) => e)) as LoraError
    expect(error.message).toMatch(/^The schema is migrated, but the storage buckets could not be created: .*\.$/)
    expect(error.exitCode).toBe(1)
    expect(error.message).not.toContain('a-wrong-key')
  })
})

for (const backend of backends) {
  describe.skipIf(!backend.available)(`the daemon on a fresh storage (${backend.name})`, () => {
    let h: DaemonHarness | undefined
    afterEach(async () => {
      await h?.close()
      h = undefined
    })

    it('creates lora-models and lora-validation-images when it starts, so the first artifact copy has a bucket', async () => {
      h = await daemonHarness(backend)
      const storage = (await h.ctx.storage()) as FolderStorage
      expect(await storage.bucketExists('lora-models')).toBe(false)
      expect(await runDaemon(h.ctx, { once: true, intervalMs: 1000, batch: 1, concurrency: 1, pollLimit: 10, logFormat: 'json' })).toBe(0)
      expect(await storage.bucketExists('lora-models')).toBe(true)
      expect(await storage.bucketExists('lora-validation-images')).toBe(true)
    })
  })
}

describe('two writers of one resumable upload (local stand-in of the TUS endpoint)', () => {
  it('takes 400 "lock acquired" as another upload in progress: the row is not failed, and a re-run finishes it', async () => {
    const s = await standIn()
    const db = await pglite.open()
    cleanups.push(() => db.close())
    const work = workDir()
    const user = randomUUID()
    const lines: string[] = []
    for (let i = 0; lines.join('\n').length < 2 * TUS_CHUNK + 1000; i++) lines.push(...Array.from({ length: 1000 }, (_, j) => chatLine(i * 1000 + j)))
    writeFileSync(join(work, 'big.jsonl'), lines.join('\n') + '\n')

    s.lock.status = 400
    const first = supabaseContext(db, s.url, work)
    const error = (await upload.run({ args: 'big.jsonl', user, bucket: 'lora-datasets', dryRun: false, force: false, json: false }, first.ctx).catch((e: unknown) => e)) as LoraError
    expect(error.code).toBe('upload_in_progress')
    expect(error.message).toBe(`Another process is uploading lora-datasets/${user}/${(await rowsOf(db, user))[0]!.id}/big.jsonl right now.`)
    expect(await rowsOf(db, user)).toEqual([expect.objectContaining({ status: 'uploading', error_message: null })])

    s.lock.status = 0
    const again = supabaseContext(db, s.url, work)
    expect(await upload.run({ args: 'big.jsonl', user, bucket: 'lora-datasets', dryRun: false, force: false, json: true }, again.ctx)).toBe(0)
    expect(JSON.parse(again.stdout())).toMatchObject({ outcome: 'uploaded', dataset: { status: 'ready' } })
    expect(await rowsOf(db, user)).toEqual([expect.objectContaining({ status: 'ready' })])
    expect(s.violations).toEqual([])
  })

  it('takes 423 Locked as another upload in progress too', async () => {
    const s = await standIn()
    const storage = new SupabaseStorage({ url: s.url, serviceRoleKey: KEY, stateDir: workDir(), retryDelays: [0, 10] })
    await storage.ensureBucket('lora-datasets')
    s.lock.status = 423
    const bytes = Buffer.alloc(TUS_CHUNK + 10, 7)
    const source = { size: bytes.length, open: (start: number) => Readable.from([bytes.subarray(start)]) }
    const error = (await storage.upload('lora-datasets', 'u/d/x.jsonl', source, { resumeKey: 'k', upsert: true }).catch((e: unknown) => e)) as LoraError
    expect(error.code).toBe('upload_in_progress')
    expect(error.message).toBe('Another process is uploading lora-datasets/u/d/x.jsonl right now.')
  })
})

async function rowsOf(db: TestDb, user: string) {
  return db.query<{ id: string; status: string; error_message: string | null }>('SELECT id, status, error_message FROM datasets WHERE user_id = $1', [user])
}

describe('a Supabase Storage that does not answer (local stand-in that leaves requests hanging)', () => {
  it('fails each call at its deadline with one sentence, instead of waiting forever', async () => {
    const s = await standIn()
    s.hangs.add('GET /storage/v1/bucket/')
    s.hangs.add('POST /storage/v1/object/sign/')
    const storage = new SupabaseStorage({ url: s.url, serviceRoleKey: KEY, stateDir: workDir(), timeoutMs: 300 })
    const started = Date.now()
    await expect(storage.bucketExists('lora-models')).rejects.toMatchObject({ code: 'storage_timeout' })
    await expect(storage.bucketExists('lora-models')).rejects.toThrow('Could not read bucket lora-models: Supabase Storage did not answer within 300 ms (storage.timeout).')
    await expect(storage.signedUrl('lora-datasets', 'u/d/x.jsonl', 60)).rejects.toThrow(
      'Could not sign a URL for lora-datasets/u/d/x.jsonl: Supabase Storage did not answer within 300 ms (storage.timeout).',
    )
    expect(Date.now() - started).toBeLessThan(10_000)
  })

  it('takes the deadline from storage.timeout in the profile', async () => {
    const { loadConfig } = await import('../../src/config/load.js')
    const dir = workDir()
    writeFileSync(join(dir, '.lorarc'), 'profiles:\n  default:\n    storage: { timeout: 15s }\n')
    const { config } = await loadConfig({ cwd: dir, homeDir: dir, flags: {}, env: { DATABASE_URL: 'postgres://u@127.0.0.1/db', SUPABASE_URL: 'https://p.supabase.co', SUPABASE_SERVICE_ROLE_KEY: 'k-123456' } })
    expect(config.storage).toMatchObject({ kind: 'supabase', timeoutMs: 15_000 })
  })
})
