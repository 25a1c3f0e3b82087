import { afterEach, describe, expect, it } from 'vitest'
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import { FolderStorage } from '../../src/storage/folder.js'
import { serveFolderStorage } from '../../src/storage/server.js'
import { FakeClock } from '../../src/clock.js'
import type { UploadSource } from '../../src/storage/types.js'

const cleanups: (() => Promise<void> | void)[] = []
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c()
})

function folder(): { dir: string; storage: FolderStorage; clock: FakeClock } {
  const dir = mkdtempSync(join(tmpdir(), 'lora-folder-'))
  const clock = new FakeClock('2026-03-01T12:00:00Z')
  const storage = new FolderStorage(join(dir, 'storage'), clock)
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
  cleanups.push(() => storage.close())
  return { dir: join(dir, 'storage'), storage, clock }
}

function bytesSource(bytes: Buffer, options: { failAfter?: number } = {}): UploadSource & { opened: number[] } {
  const opened: number[] = []
  return {
    size: bytes.length,
    opened,
    open(start) {
      opened.push(start)
      const rest = bytes.subarray(start)
      if (options.failAfter === undefined) return Readable.from([rest.subarray(0, 1000), rest.subarray(1000)])
      const cut = Math.max(0, options.failAfter - start)
      return Readable.from(
        (async function* () {
          yield rest.subarray(0, cut)
          throw new Error('connection reset')
        })(),
      )
    },
  }
}

const data = Buffer.from(Array.from({ length: 5000 }, (_, i) => `line ${i}\n`).join(''))

describe('the folder storage', () => {
  it('uploads atomically: no object until complete, and nothing else left behind', async () => {
    const { dir, storage } = folder()
    await storage.ensureBucket('lora-datasets')
    expect(await storage.bucketExists('lora-datasets')).toBe(true)
    expect(await storage.bucketExists('lora-models')).toBe(false)
    const progress: number[] = []
    await storage.upload('lora-datasets', 'u1/d1/data.jsonl', bytesSource(data), { onProgress: (sent) => progress.push(sent) })
    expect(readFileSync(join(dir, 'lora-datasets', 'u1', 'd1', 'data.jsonl'))).toEqual(data)
    expect(progress[0]).toBe(0)
    expect(progress.at(-1)).toBe(data.length)
    expect(readdirSync(join(dir, '.partial'))).toEqual([])
    expect(await storage.stat('lora-datasets', 'u1/d1/data.jsonl')).toMatchObject({ path: 'u1/d1/data.jsonl', size: data.length })
    expect(await storage.stat('lora-datasets', 'u1/d1/other.jsonl')).toBeNull()
    expect(statSync(join(dir, 'lora-datasets', 'u1', 'd1', 'data.jsonl')).mode & 0o077).toBe(0)
  })

  it('refuses to overwrite without upsert, and to write to a missing bucket', async () => {
    const { storage } = folder()
    await storage.ensureBucket('lora-datasets')
    await storage.upload('lora-datasets', 'a.jsonl', bytesSource(data))
    await expect(storage.upload('lora-datasets', 'a.jsonl', bytesSource(data))).rejects.toThrow('lora-datasets/a.jsonl already exists.')
    await storage.upload('lora-datasets', 'a.jsonl', bytesSource(Buffer.from('new')), { upsert: true })
    expect((await storage.stat('lora-datasets', 'a.jsonl'))!.size).toBe(3)
    await expect(storage.upload('training-files', 'a.jsonl', bytesSource(data))).rejects.toThrow('Bucket training-files does not exist.')
  })

  it('resumes an interrupted upload from the size of its partial file', async () => {
    const { dir, storage } = folder()
    await storage.ensureBucket('lora-datasets')
    const failing = bytesSource(data, { failAfter: 20_000 })
    await expect(storage.upload('lora-datasets', 'x/data.jsonl', failing, { resumeKey: 'sha-1', upsert: true })).rejects.toThrow('connection reset')
    expect(await storage.stat('lora-datasets', 'x/data.jsonl')).toBeNull()
    const [partial] = readdirSync(join(dir, '.partial')).filter((f) => f.endsWith('.part'))
    expect(statSync(join(dir, '.partial', partial!)).size).toBe(20_000)

    const source = bytesSource(data)
    let startedAt = -1
    await storage.upload('lora-datasets', 'x/data.jsonl', source, { resumeKey: 'sha-1', upsert: true, onStart: (o) => (startedAt = o) })
    expect(startedAt).toBe(20_000)
    expect(source.opened).toEqual([20_000])
    expect(readFileSync(join(dir, 'lora-datasets', 'x', 'data.jsonl'))).toEqual(data)
    expect(readdirSync(join(dir, '.partial'))).toEqual([])
  })

  it('does not resume across resume keys, and drops the partial of an upload without one', async () => {
    const { dir, storage } = folder()
    await storage.ensureBucket('lora-datasets')
    await expect(storage.upload('lora-datasets', 'y.jsonl', bytesSource(data, { failAfter: 100 }), { resumeKey: 'k1' })).rejects.toThrow()
    const source = bytesSource(data)
    await storage.upload('lora-datasets', 'y.jsonl', source, { resumeKey: 'k2' })
    expect(source.opened).toEqual([0])
    await expect(storage.upload('lora-datasets', 'z.jsonl', bytesSource(data, { failAfter: 100 }))).rejects.toThrow()
    // k1's partial stays for its owner; the key-less one is gone.
    expect(readdirSync(join(dir, '.partial')).filter((f) => f.endsWith('.part'))).toHaveLength(1)
  })

  it('refuses a second writer of the same partial while the first lives', async () => {
    const { dir, storage } = folder()
    await storage.ensureBucket('lora-datasets')
    await expect(storage.upload('lora-datasets', 'w.jsonl', bytesSource(data, { failAfter: 10 }), { resumeKey: 'k' })).rejects.toThrow()
    const [partial] = readdirSync(join(dir, '.partial')).filter((f) => f.endsWith('.part'))
    // A live process (this test's parent) holds the lock.
    writeFileSync(join(dir, '.partial', `${partial}.lock`), String(process.ppid))
    await expect(storage.upload('lora-datasets', 'w.jsonl', bytesSource(data), { resumeKey: 'k' })).rejects.toThrow(
      `Another lora process (pid ${process.ppid}) is uploading lora-datasets/w.jsonl right now.`,
    )
    // A dead owner's lock is taken over.
    writeFileSync(join(dir, '.partial', `${partial}.lock`), '999999999')
    await storage.upload('lora-datasets', 'w.jsonl', bytesSource(data), { resumeKey: 'k' })
    expect((await storage.stat('lora-datasets', 'w.jsonl'))!.size).toBe(data.length)
  })

  it('lists recursively under a prefix, removes objects and prunes empty folders', async () => {
    const { dir, storage } = folder()
    await storage.ensureBucket('lora-models')
    await storage.uploadBytes('lora-models', 'u1/j1/adapter.safetensors', Buffer.from('a'))
    await storage.uploadBytes('lora-models', 'u1/j2/adapter.safetensors', Buffer.from('bb'))
    await storage.uploadBytes('lora-models', 'u2/j3/adapter.safetensors', Buffer.from('ccc'))
    expect((await storage.list('lora-models', 'u1/')).map((o) => [o.path, o.size])).toEqual([
      ['u1/j1/adapter.safetensors', 1],
      ['u1/j2/adapter.safetensors', 2],
    ])
    expect(await storage.list('lora-models')).toHaveLength(3)
    await storage.remove('lora-models', ['u1/j1/adapter.safetensors', 'u1/missing.bin'])
    expect(existsSync(join(dir, 'lora-models', 'u1', 'j1'))).toBe(false)
    expect(existsSync(join(dir, 'lora-models', 'u1', 'j2'))).toBe(true)
    expect(existsSync(join(dir, 'lora-models'))).toBe(true)
    const chunks: Buffer[] = []
    for await (const chunk of await storage.download('lora-models', 'u2/j3/adapter.safetensors')) chunks.push(chunk as Buffer)
    expect(Buffer.concat(chunks).toString()).toBe('ccc')
  })

  it('refuses paths that would leave the bucket', async () => {
    const { storage } = folder()
    await storage.ensureBucket('lora-datasets')
    await expect(storage.uploadBytes('lora-datasets', '../escape', Buffer.from('x'))).rejects.toThrow('is not an object path')
    await expect(storage.stat('lora-datasets', '/abs')).rejects.toThrow('is not an object path')
    await expect(storage.bucketExists('../x')).resolves.toBe(false)
    await expect(storage.ensureBucket('Bad Bucket')).rejects.toThrow('is not a bucket name')
  })
})

describe('signed URLs of the folder storage', () => {
  it('serves the object until the URL expires, then refuses it with 403', async () => {
    const { storage, clock } = folder()
    await storage.ensureBucket('lora-datasets')
    await storage.uploadBytes('lora-datasets', 'u1/d1/my data.jsonl', Buffer.from('{"a":1}\n'))
    const url = await storage.signedUrl('lora-datasets', 'u1/d1/my data.jsonl', 60)
    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/storage\/v1\/object\/sign\/lora-datasets\/u1\/d1\/my%20data\.jsonl\?token=eyJ[\w-]+\.[\w-]+\.[\w-]+$/)
    const ok = await fetch(url)
    expect(ok.status).toBe(200)
    expect(ok.headers.get('content-type')).toBe('application/x-ndjson')
    expect(await ok.text()).toBe('{"a":1}\n')

    clock.advance(59_000)
    expect((await fetch(url)).status).toBe(200)
    clock.advance(1_000)
    const expired = await fetch(url)
    expect(expired.status).toBe(403)
    expect(await expired.json()).toEqual({ statusCode: '403', error: 'InvalidJWT', message: 'jwt expired' })
  })

  it('refuses a token for another object, a forged one and none at all', async () => {
    const { storage } = folder()
    await storage.ensureBucket('lora-datasets')
    await storage.uploadBytes('lora-datasets', 'a.jsonl', Buffer.from('A'))
    await storage.uploadBytes('lora-datasets', 'b.jsonl', Buffer.from('B'))
    const url = new URL(await storage.signedUrl('lora-datasets', 'a.jsonl', 60))
    const token = url.searchParams.get('token')!
    const other = new URL(url)
    other.pathname = other.pathname.replace('a.jsonl', 'b.jsonl')
    expect((await fetch(other)).status).toBe(403)
    const [h, p, sig] = token.split('.')
    const forged = new URL(url)
    forged.searchParams.set('token', `${h}.${p}.${sig!.slice(0, -2)}AA`)
    expect((await fetch(forged)).status).toBe(403)
    const bare = new URL(url)
    bare.search = ''
    expect((await fetch(bare)).status).toBe(400)
    const missing = new URL(await storage.signedUrl('lora-datasets', 'gone.jsonl', 60))
    expect((await fetch(missing)).status).toBe(404)
  })

  it('answers a byte range', async () => {
    const { storage } = folder()
    await storage.ensureBucket('lora-datasets')
    await storage.uploadBytes('lora-datasets', 'r.bin', Buffer.from('0123456789'))
    const url = await storage.signedUrl('lora-datasets', 'r.bin', 60)
    const part = await fetch(url, { headers: { range: 'bytes=2-5' } })
    expect(part.status).toBe(206)
    expect(part.headers.get('content-range')).toBe('bytes 2-5/10')
    expect(await part.text()).toBe('2345')
    expect((await fetch(url, { headers: { range: 'bytes=20-' } })).status).toBe(416)
  })

  it('signs with the server of the process that holds the stack, which serves after this storage closes', async () => {
    const { dir, storage, clock } = folder()
    await storage.ensureBucket('lora-datasets')
    await storage.uploadBytes('lora-datasets', 'k.jsonl', Buffer.from('K'))
    const held = await serveFolderStorage(dir, { clock })
    cleanups.push(() => held.close())
    expect(JSON.parse(readFileSync(join(dir, '.server.json'), 'utf8'))).toEqual({ url: held.url, pid: process.pid })
    const url = await storage.signedUrl('lora-datasets', 'k.jsonl', 60)
    expect(url.startsWith(`${held.url}/storage/v1/object/sign/`)).toBe(true)
    await storage.close()
    expect(await (await fetch(url)).text()).toBe('K')
    // The signing key is the folder's, readable by its owner only.
    expect(statSync(join(dir, '.signing-key')).mode & 0o077).toBe(0)
    await held.close()
    expect(existsSync(join(dir, '.server.json'))).toBe(false)
  })

  it('starts a server of its own when none runs, and stops it on close', async () => {
    const { dir, storage } = folder()
    await storage.ensureBucket('lora-datasets')
    await storage.uploadBytes('lora-datasets', 'l.jsonl', Buffer.from('L'))
    // A server file left by a process that is gone is ignored.
    writeFileSync(join(dir, '.server.json'), JSON.stringify({ url: 'http://127.0.0.1:1', pid: 999999999 }))
    const url = await storage.signedUrl('lora-datasets', 'l.jsonl', 60)
    expect(url.startsWith('http://127.0.0.1:1/')).toBe(false)
    expect(await (await fetch(url)).text()).toBe('L')
    await storage.close()
    await expect(fetch(url)).rejects.toThrow()
  })

  it('really expires on the wall clock too', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'lora-folder-'))
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
    const { systemClock } = await import('../../src/clock.js')
    const storage = new FolderStorage(dir, systemClock)
    cleanups.push(() => storage.close())
    await storage.ensureBucket('lora-datasets')
    await storage.uploadBytes('lora-datasets', 'w.jsonl', Buffer.from('W'))
    const url = await storage.signedUrl('lora-datasets', 'w.jsonl', 1)
    expect((await fetch(url)).status).toBe(200)
    // Signed two seconds ago for one second (a signer whose clock is behind): the
    // server, on the wall clock, finds it expired without the test waiting.
    const { FakeClock } = await import('../../src/clock.js')
    const earlier = new FolderStorage(dir, new FakeClock(Date.now() - 2_000))
    cleanups.push(() => earlier.close())
    const signed = new URL(await earlier.signedUrl('lora-datasets', 'w.jsonl', 1))
    // Checked by the first server, whose clock is the system's.
    const expired = new URL(`${signed.pathname}${signed.search}`, new URL(url).origin)
    expect(expired.pathname).toBe(new URL(url).pathname)
    expect((await fetch(expired)).status).toBe(403)
  })
})
