import { afterEach, describe, expect, it } from 'vitest'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { createHash } from 'node:crypto'
import { SupabaseStorage, resumableEndpoint } from '../../src/storage/supabase.js'
import type { UploadSource } from '../../src/storage/types.js'
import { startStorageStandIn, TUS_CHUNK } from './supabase-standin.js'

const KEY = 'service-role-key-for-the-stand-in'

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

async function setup() {
  const standIn = await startStorageStandIn(KEY)
  const stateDir = mkdtempSync(join(tmpdir(), 'lora-supabase-'))
  cleanups.push(() => rmSync(stateDir, { recursive: true, force: true }))
  cleanups.push(() => standIn.close())
  const open = () => new SupabaseStorage({ url: standIn.url, serviceRoleKey: KEY, stateDir, retryDelays: [0, 10] })
  return { standIn, stateDir, storage: open(), open }
}

/** Deterministic bytes, so that chunks are told apart. */
function pattern(size: number): Buffer {
  const bytes = Buffer.alloc(size)
  for (let i = 0; i + 4 <= size; i += 4) bytes.writeUInt32LE(i, i)
  return bytes
}

function source(bytes: Buffer, onOpen?: (start: number) => void): UploadSource {
  return {
    size: bytes.length,
    contentType: 'application/x-ndjson',
    open(start) {
      onOpen?.(start)
      return Readable.from((function* () {
        for (let i = start; i < bytes.length; i += 1024 * 1024) yield bytes.subarray(i, Math.min(bytes.length, i + 1024 * 1024))
      })())
    },
  }
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex')

describe('Supabase storage, against a local stand-in of the Storage and TUS endpoints (no Supabase server runs here)', () => {
  it('creates a missing bucket private, and knows an existing one', async () => {
    const { standIn, storage } = await setup()
    expect(await storage.bucketExists('lora-datasets')).toBe(false)
    await storage.ensureBucket('lora-datasets')
    await storage.ensureBucket('lora-datasets')
    expect(await storage.bucketExists('lora-datasets')).toBe(true)
    expect([...standIn.buckets]).toEqual(['lora-datasets'])
    expect(standIn.requests.filter((r) => r.method === 'POST' && r.path === '/storage/v1/bucket')).toHaveLength(1)
    expect(standIn.violations).toEqual([])
  })

  it('uploads a small file in one request, with its content type and upsert', async () => {
    const { standIn, storage } = await setup()
    await storage.ensureBucket('lora-datasets')
    const bytes = Buffer.from('{"prompt":"a","completion":"b"}\n')
    const progress: number[] = []
    await storage.upload('lora-datasets', 'u1/d1/data.jsonl', source(bytes), { upsert: true, onProgress: (s) => progress.push(s) })
    const post = standIn.requests.find((r) => r.method === 'POST' && r.path === '/storage/v1/object/lora-datasets/u1/d1/data.jsonl')!
    expect(post.headers['content-type']).toBe('application/x-ndjson')
    expect(post.headers['x-upsert']).toBe('true')
    expect(post.bodyBytes).toBe(bytes.length)
    expect(standIn.objects.get('lora-datasets/u1/d1/data.jsonl')!.bytes).toEqual(bytes)
    expect(progress).toEqual([0, bytes.length])
    expect(standIn.requests.some((r) => r.path.startsWith('/storage/v1/upload/resumable'))).toBe(false)
    expect(standIn.violations).toEqual([])
  })

  it('uploads a large file by TUS in 6 MB chunks, with the metadata Supabase reads', async () => {
    const { standIn, storage } = await setup()
    await storage.ensureBucket('lora-datasets')
    const bytes = pattern(2 * TUS_CHUNK + 1234)
    let startedAt = -1
    await storage.upload('lora-datasets', 'u1/d2/big file.jsonl', source(bytes), { resumeKey: sha(bytes), upsert: true, onStart: (o) => (startedAt = o) })
    expect(startedAt).toBe(0)
    const tus = standIn.requests.filter((r) => r.path.startsWith('/storage/v1/upload/resumable'))
    expect(tus.map((r) => [r.method, r.bodyBytes, r.headers['upload-offset']])).toEqual([
      ['POST', 0, undefined],
      ['PATCH', TUS_CHUNK, '0'],
      ['PATCH', TUS_CHUNK, String(TUS_CHUNK)],
      ['PATCH', 1234, String(2 * TUS_CHUNK)],
    ])
    const create = tus[0]!
    expect(create.headers['upload-length']).toBe(String(bytes.length))
    expect(create.headers['x-upsert']).toBe('true')
    const metadata = Object.fromEntries(
      String(create.headers['upload-metadata'])
        .split(',')
        .map((pair) => pair.split(' '))
        .map(([k, v]) => [k, Buffer.from(v!, 'base64').toString()]),
    )
    expect(metadata).toEqual({ bucketName: 'lora-datasets', objectName: 'u1/d2/big file.jsonl', contentType: 'application/x-ndjson', cacheControl: '3600' })
    expect(standIn.objects.get('lora-datasets/u1/d2/big file.jsonl')!.bytes.equals(bytes)).toBe(true)
    expect(standIn.violations).toEqual([])
  })

  it('retries a failed chunk from the offset the server confirms', async () => {
    const { standIn, storage } = await setup()
    await storage.ensureBucket('lora-datasets')
    const bytes = pattern(TUS_CHUNK + 10)
    standIn.failPatches.add(2)
    await storage.upload('lora-datasets', 'r.jsonl', source(bytes), { resumeKey: 'k', upsert: true })
    const tus = standIn.requests.filter((r) => r.path.startsWith('/storage/v1/upload/resumable'))
    expect(tus.map((r) => [r.method, r.headers['upload-offset'] ?? null])).toEqual([
      ['POST', null],
      ['PATCH', '0'],
      ['PATCH', String(TUS_CHUNK)],
      ['HEAD', null],
      ['PATCH', String(TUS_CHUNK)],
    ])
    expect(standIn.objects.get('lora-datasets/r.jsonl')!.bytes.equals(bytes)).toBe(true)
    expect(standIn.violations).toEqual([])
  })

  it('resumes an upload interrupted in one process from the next, by the fingerprint kept in the state directory', async () => {
    const { standIn, stateDir, storage, open } = await setup()
    await storage.ensureBucket('lora-datasets')
    const bytes = pattern(3 * TUS_CHUNK + 99)
    const controller = new AbortController()
    const first = storage.upload('lora-datasets', 'u/d/resume.jsonl', source(bytes), {
      resumeKey: sha(bytes),
      upsert: true,
      signal: controller.signal,
      onProgress: (sent) => {
        if (sent >= TUS_CHUNK + 1) controller.abort()
      },
    })
    await expect(first).rejects.toThrow('interrupted')
    await new Promise((resolve) => setTimeout(resolve, 50))
    expect(readdirSync(join(stateDir, 'uploads'))).toHaveLength(1)
    const confirmed = [...standIn.uploads.values()][0]!.offset
    expect(confirmed).toBeGreaterThanOrEqual(TUS_CHUNK)
    expect(confirmed % TUS_CHUNK).toBe(0)

    // A new process: a new storage over the same state directory.
    const opened: number[] = []
    let startedAt = -1
    await open().upload('lora-datasets', 'u/d/resume.jsonl', source(bytes, (s) => opened.push(s)), {
      resumeKey: sha(bytes),
      upsert: true,
      onStart: (o) => (startedAt = o),
    })
    expect(startedAt).toBe(confirmed)
    expect(opened[0]).toBe(confirmed)
    const posts = standIn.requests.filter((r) => r.method === 'POST' && r.path === '/storage/v1/upload/resumable')
    expect(posts).toHaveLength(1)
    const head = standIn.requests.filter((r) => r.method === 'HEAD')
    expect(head).toHaveLength(1)
    expect(standIn.objects.get('lora-datasets/u/d/resume.jsonl')!.bytes.equals(bytes)).toBe(true)
    // Done: the fingerprint is forgotten.
    expect(readdirSync(join(stateDir, 'uploads'))).toEqual([])
    expect(standIn.violations).toEqual([])
  })

  it('signs URLs, stats, lists, downloads and removes through the Storage API', async () => {
    const { standIn, storage } = await setup()
    await storage.ensureBucket('lora-models')
    await storage.uploadBytes('lora-models', 'u1/j1/adapter.safetensors', Buffer.from('abc'), 'application/octet-stream')
    await storage.uploadBytes('lora-models', 'u1/j2/adapter.safetensors', Buffer.from('de'))
    await storage.uploadBytes('lora-models', 'u2/j3/adapter.safetensors', Buffer.from('f'))

    const url = await storage.signedUrl('lora-models', 'u1/j1/adapter.safetensors', 86_400)
    expect(url).toBe(`${standIn.url}/storage/v1/object/sign/lora-models/u1/j1/adapter.safetensors?token=eyJhbGciOiJIUzI1NiJ9.eyJ1cmwiOiJ4In0.c2lnbmF0dXJl86400`)
    const sign = standIn.requests.find((r) => r.path.startsWith('/storage/v1/object/sign/'))!
    expect(sign.method).toBe('POST')

    expect(await storage.stat('lora-models', 'u1/j1/adapter.safetensors')).toMatchObject({ path: 'u1/j1/adapter.safetensors', size: 3 })
    expect(await storage.stat('lora-models', 'u1/nope')).toBeNull()
    expect((await storage.list('lora-models', 'u1/')).map((o) => [o.path, o.size])).toEqual([
      ['u1/j1/adapter.safetensors', 3],
      ['u1/j2/adapter.safetensors', 2],
    ])
    expect(await storage.list('lora-models')).toHaveLength(3)
    const chunks: Buffer[] = []
    for await (const c of await storage.download('lora-models', 'u2/j3/adapter.safetensors')) chunks.push(Buffer.from(c as Uint8Array))
    expect(Buffer.concat(chunks).toString()).toBe('f')
    await storage.remove('lora-models', ['u1/j1/adapter.safetensors'])
    expect(standIn.objects.has('lora-models/u1/j1/adapter.safetensors')).toBe(false)
    const del = standIn.requests.find((r) => r.method === 'DELETE')!
    expect(del.path).toBe('/storage/v1/object/lora-models')
    expect(standIn.violations).toEqual([])
  })

  it('says what failed, in one sentence, without the key', async () => {
    const { storage } = await setup()
    await expect(storage.upload('lora-datasets', 'x.jsonl', source(Buffer.from('x')))).rejects.toThrow('Could not upload lora-datasets/x.jsonl: Bucket not found (HTTP 400).')
    const wrong = new SupabaseStorage({ url: (await setup()).standIn.url, serviceRoleKey: 'wrong-key', stateDir: tmpdir() })
    const error = await wrong.bucketExists('lora-datasets').catch((e: Error) => e)
    expect(String(error)).toContain('Invalid JWT')
    expect(String(error)).not.toContain('wrong-key')
  })

  it('sends large uploads to the direct storage host of a hosted project', () => {
    expect(resumableEndpoint('https://abcdefgh.supabase.co')).toBe('https://abcdefgh.storage.supabase.co/storage/v1/upload/resumable')
    expect(resumableEndpoint('http://127.0.0.1:54321/')).toBe('http://127.0.0.1:54321/storage/v1/upload/resumable')
  })
})
