import { describe, expect, it } from 'vitest'
import { randomUUID } from 'node:crypto'
import { statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { backends, type TestDb } from '../helpers/db.js'
import { testConfig, testContext } from '../helpers/context.js'
import { FakeClock } from '../../src/clock.js'
import { SupabaseStorage } from '../../src/storage/supabase.js'
import type { UploadSource } from '../../src/storage/types.js'
import type { LoraError } from '../../src/errors.js'
import * as upload from '../../commands/datasets-upload.js'
import { standInFixture, TUS_CHUNK } from './supabase-standin.js'

const KEY = 'service-role-key-for-the-stand-in'
/** storage.timeout in these tests: short, so that a stall costs a fraction of a second. */
const DEADLINE_MS = 300
/** Each test's own bound: on code without a TUS deadline they hang, and this fails them fast. */
const BOUND_MS = 10_000
/** The same for a whole command, which opens a database and validates its file first. */
const COMMAND_BOUND_MS = 20_000

const { cleanups, workDir, standIn } = standInFixture(KEY, 'lora-deadline-', ['lora-datasets'])

/** Deterministic bytes, so that chunks are told apart. */
function pattern(size: number): Buffer {
  const bytes = Buffer.alloc(size)
  for (let i = 0; i + 4 <= size; i += 4) bytes.writeUInt32LE(i, i)
  return bytes
}

function source(bytes: Buffer): UploadSource {
  return { size: bytes.length, contentType: 'application/x-ndjson', open: (start) => Readable.from([bytes.subarray(start)]) }
}

const tusRequests = (s: Awaited<ReturnType<typeof standIn>>) =>
  s.requests
    .filter((r) => r.path.startsWith('/storage/v1/upload/resumable'))
    .map((r) => `${r.method} ${r.path === '/storage/v1/upload/resumable' ? '' : 'upload'} ${r.headers['upload-offset'] ?? ''}`.replace(/ +/g, ' ').trim())

describe('TUS deadlines: a local HTTP server stands in for Supabase Storage and stalls (no Supabase server runs here)', () => {
  it(
    'fails a resumable upload whose create request is never answered at storage.timeout, not retried, in one sentence',
    async () => {
      const s = await standIn()
      s.hangs.add('POST /storage/v1/upload/resumable')
      // Retries allowed: a request that passed the deadline must still not be sent again.
      const storage = new SupabaseStorage({ url: s.url, serviceRoleKey: KEY, stateDir: workDir(), retryDelays: [0, 10], timeoutMs: DEADLINE_MS })
      const bytes = pattern(TUS_CHUNK + 10)
      const started = Date.now()
      const error = (await storage.upload('lora-datasets', 'u/d/x.jsonl', source(bytes), { resumeKey: 'k', upsert: true }).catch((e: unknown) => e)) as LoraError
      expect(error.message).toBe('Resumable upload of lora-datasets/u/d/x.jsonl stopped: Supabase Storage did not answer within 300 ms (storage.timeout).')
      expect(error.code).toBe('storage_timeout')
      expect(Date.now() - started).toBeLessThan(5_000)
      const [create, ...rest] = s.requests
      expect(rest).toEqual([])
      expect(create).toMatchObject({ method: 'POST', path: '/storage/v1/upload/resumable', bodyBytes: 0 })
      expect(create!.headers).toMatchObject({ 'tus-resumable': '1.0.0', 'upload-length': String(bytes.length), authorization: `Bearer ${KEY}`, apikey: KEY, 'x-upsert': 'true' })
      expect(s.violations).toEqual([])
    },
    BOUND_MS,
  )

  it(
    'fails a PATCH the server stops reading, then a resume whose HEAD is never answered; a third run resumes from the confirmed chunk',
    async () => {
      const s = await standIn()
      const stateDir = workDir()
      const open = () => new SupabaseStorage({ url: s.url, serviceRoleKey: KEY, stateDir, retryDelays: [0, 10], timeoutMs: DEADLINE_MS })
      const bytes = pattern(2 * TUS_CHUNK + 1234)
      const path = 'u/d/big.jsonl'

      // The second chunk: the server reads its first bytes, then nothing, and never answers.
      s.stall.fromPatch = 2
      s.stall.afterBytes = 1
      const stalled = (await open().upload('lora-datasets', path, source(bytes), { resumeKey: 'k', upsert: true }).catch((e: unknown) => e)) as LoraError
      expect(stalled.message).toBe(`Resumable upload of lora-datasets/${path} stopped: Supabase Storage did not answer within 300 ms (storage.timeout).`)
      expect(stalled.code).toBe('storage_timeout')
      expect(tusRequests(s)).toEqual(['POST', 'PATCH upload 0', `PATCH upload ${TUS_CHUNK}`])
      expect(s.requests.at(-1)!.bodyBytes).toBeLessThan(TUS_CHUNK)
      expect([...s.uploads.values()][0]).toMatchObject({ offset: TUS_CHUNK })

      // The next run asks where to resume, and that question is left hanging.
      s.stall.fromPatch = 0
      s.hangs.add('HEAD /storage/v1/upload/resumable/')
      const hung = (await open().upload('lora-datasets', path, source(bytes), { resumeKey: 'k', upsert: true }).catch((e: unknown) => e)) as LoraError
      expect(hung.message).toBe(`Resumable upload of lora-datasets/${path} stopped: Supabase Storage did not answer within 300 ms (storage.timeout).`)
      expect(tusRequests(s).slice(3)).toEqual(['HEAD upload'])

      s.hangs.clear()
      let resumedAt = -1
      await open().upload('lora-datasets', path, source(bytes), { resumeKey: 'k', upsert: true, onStart: (offset) => (resumedAt = offset) })
      expect(resumedAt).toBe(TUS_CHUNK)
      expect(tusRequests(s).slice(4)).toEqual(['HEAD upload', `PATCH upload ${TUS_CHUNK}`, `PATCH upload ${2 * TUS_CHUNK}`])
      expect(s.objects.get(`lora-datasets/${path}`)!.bytes.equals(bytes)).toBe(true)
      expect(s.violations).toEqual([])
    },
    BOUND_MS,
  )

  it(
    'gives each TUS request the deadline afresh: a slow storage that answers every request in time finishes an upload longer than the deadline',
    async () => {
      const s = await standIn()
      const deadline = 1_000
      const storage = new SupabaseStorage({ url: s.url, serviceRoleKey: KEY, stateDir: workDir(), timeoutMs: deadline })
      // Create and three PATCHes, each answered 300 ms after it arrived: 1.2 s in all.
      s.tusDelay.ms = 300
      const bytes = pattern(2 * TUS_CHUNK + 10)
      const started = Date.now()
      await storage.upload('lora-datasets', 'u/d/slow.jsonl', source(bytes), { upsert: true })
      expect(Date.now() - started).toBeGreaterThan(deadline)
      expect(tusRequests(s)).toEqual(['POST', 'PATCH upload 0', `PATCH upload ${TUS_CHUNK}`, `PATCH upload ${2 * TUS_CHUNK}`])
      expect(s.objects.get('lora-datasets/u/d/slow.jsonl')!.bytes.equals(bytes)).toBe(true)
      expect(s.violations).toEqual([])
    },
    BOUND_MS,
  )
})

const pglite = backends[0]!
const chatLine = (i: number) => JSON.stringify({ messages: [{ role: 'user', content: `question ${i} ${'q'.repeat(200)}` }, { role: 'assistant', content: `answer ${i}` }] })

async function rowsOf(db: TestDb, user: string) {
  return db.query<{ id: string; status: string; error_message: string | null }>('SELECT id, status, error_message FROM datasets WHERE user_id = $1', [user])
}

describe('datasets upload to a Supabase Storage that stalls mid-upload (local stand-in of the TUS endpoint)', () => {
  it(
    'exits 1 with one sentence, prints where it stopped with --json, leaves the row uploading, and a re-run resumes',
    async () => {
      const s = await standIn()
      const db = await pglite.open()
      cleanups.push(() => db.close())
      const work = workDir()
      const user = randomUUID()
      const lines: string[] = []
      // Over one chunk: the first is confirmed, the second (the rest) is left hanging.
      for (let i = 0; lines.join('\n').length < TUS_CHUNK; i++) lines.push(...Array.from({ length: 1000 }, (_, j) => chatLine(i * 1000 + j)))
      writeFileSync(join(work, 'big.jsonl'), lines.join('\n') + '\n')
      const context = () => {
        const t = testContext({
          db,
          clock: new FakeClock('2026-04-01T10:00:00.000Z'),
          cwd: work,
          config: testConfig({ storage: { kind: 'supabase', url: s.url, serviceRoleKey: KEY, quotaBytes: 10 * 1024 ** 3, timeoutMs: DEADLINE_MS } }, join(work, '.lora')),
          env: { LORA_ACTOR: 'ops@test' },
        })
        cleanups.push(() => t.ctx.close())
        return t
      }

      s.stall.fromPatch = 2
      s.stall.afterBytes = 1
      const first = context()
      const error = (await upload.run({ args: 'big.jsonl', user, bucket: 'lora-datasets', dryRun: false, force: false, json: true }, first.ctx).catch((e: unknown) => e)) as LoraError
      const [row] = await rowsOf(db, user)
      expect(error.message).toBe(
        `Resumable upload of lora-datasets/${user}/${row!.id}/big.jsonl stopped: Supabase Storage did not answer within 300 ms (storage.timeout); dataset ${row!.id} stays uploading: run the same command again to resume.`,
      )
      expect(error.exitCode).toBe(1)
      expect(row).toMatchObject({ status: 'uploading', error_message: null })
      const printed = JSON.parse(first.stdout()) as { outcome: string; reason: string; dataset_id: string; offset: number; file_size: number }
      const size = statSync(join(work, 'big.jsonl')).size
      expect(printed).toEqual({ outcome: 'interrupted', reason: 'storage_timeout', dataset_id: row!.id, offset: expect.any(Number), file_size: size })
      // Bytes sent, the first chunk confirmed among them.
      expect(printed.offset).toBeGreaterThanOrEqual(TUS_CHUNK)
      expect(printed.offset).toBeLessThanOrEqual(size)

      s.stall.fromPatch = 0
      const again = context()
      expect(await upload.run({ args: 'big.jsonl', user, bucket: 'lora-datasets', dryRun: false, force: false, json: true }, again.ctx)).toBe(0)
      expect(JSON.parse(again.stdout())).toMatchObject({ outcome: 'uploaded', resumed_from: TUS_CHUNK, dataset: { id: row!.id, status: 'ready' } })
      expect(s.violations).toEqual([])
    },
    COMMAND_BOUND_MS,
  )
})
