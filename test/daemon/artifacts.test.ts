import { afterEach, describe, expect, it } from 'vitest'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { tempDir } from '../helpers/cli.js'
import { InstantClock } from '../helpers/clock.js'
import { FolderStorage } from '../../src/storage/folder.js'
import { copyArtifacts, type ArtifactLimits } from '../../src/daemon/artifacts.js'
import type { Artifacts } from '../../src/cluster/contract.js'
import { SupabaseStorage } from '../../src/storage/supabase.js'
import { startStorageStandIn, TUS_CHUNK } from '../storage/supabase-standin.js'

const JOB = { id: '11111111-2222-4333-8444-555555555555', user_id: '00000000-0000-4000-8000-00000000a11c' }

interface FileServer {
  url: string
  host: string
  hits: string[]
  close(): Promise<void>
}

/** A local HTTP server standing in for a cluster's artifact store (or a host it must not reach). */
async function serveFiles(routes: Record<string, (res: import('node:http').ServerResponse) => void>): Promise<FileServer> {
  const hits: string[] = []
  const server: Server = createServer((req, res) => {
    hits.push(req.url ?? '')
    const route = routes[new URL(req.url ?? '/', 'http://x').pathname]
    if (!route) {
      res.writeHead(404)
      return void res.end()
    }
    route(res)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    host: `127.0.0.1:${port}`,
    hits,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

const bytes = (n: number, seed = 1) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 31 + seed) % 251))

describe('artifact copies: streamed, capped, from allowed hosts only (local HTTP servers, folder storage)', () => {
  const cleanups: (() => Promise<void> | void)[] = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  async function setup(routes: Record<string, (res: import('node:http').ServerResponse) => void>) {
    const cluster = await serveFiles(routes)
    cleanups.push(() => cluster.close())
    const dir = tempDir('lora-artifacts-')
    cleanups.push(() => dir.remove())
    const storage = new FolderStorage(join(dir.path, 'storage'), new InstantClock())
    return { cluster, storage, dir: join(dir.path, 'storage') }
  }
  const send = (body: Buffer) => (res: import('node:http').ServerResponse) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length })
    res.end(body)
  }
  const limits = (hosts: string[], maxBytes = 1024 * 1024): ArtifactLimits => ({ allowedHosts: hosts, maxBytes })

  it('streams the adapter and the validation images from the cluster into their buckets', async () => {
    const adapter = bytes(300_000)
    const image = bytes(5_000, 7)
    const { cluster, storage, dir } = await setup({ '/a/adapter.safetensors': send(adapter), '/a/0.jpg': send(image) })
    const artifacts: Artifacts = { adapter_url: `${cluster.url}/a/adapter.safetensors`, adapter_size: adapter.length, validation_images: [{ url: `${cluster.url}/a/0.jpg`, size: image.length }] }
    const record = await copyArtifacts(storage, JOB, artifacts, { clock: new InstantClock(), limits: limits([cluster.host]) })
    expect(record).toMatchObject({ status: 'stored', upload_error: null })
    expect(readFileSync(join(dir, 'lora-models', JOB.user_id, JOB.id, 'adapter.safetensors')).equals(adapter)).toBe(true)
    expect(readFileSync(join(dir, 'lora-validation-images', JOB.user_id, JOB.id, 'validation', '0.jpg')).equals(image)).toBe(true)
  })

  it('fails the artifact row with the reason when the adapter is over the cap, without downloading it', async () => {
    const { cluster, storage } = await setup({ '/big': send(bytes(4096)) })
    const artifacts: Artifacts = { adapter_url: `${cluster.url}/big`, adapter_size: 4096, validation_images: [] }
    const record = await copyArtifacts(storage, JOB, artifacts, { clock: new InstantClock(), limits: limits([cluster.host], 1024) })
    expect(record).toMatchObject({
      status: 'upload_failed',
      upload_error: 'the adapter is 4.0 KB, over the 1.0 KB cap (artifacts.maxSizeGb)',
      source_urls: { adapter_url: `${cluster.url}/big` },
    })
    expect(cluster.hits).toEqual([])
  })

  it('stops a download that turns out larger than the cap or than it said, whatever the cluster declared', async () => {
    const { cluster, storage, dir } = await setup({
      '/lying-length': send(bytes(4096)),
      '/lying-body': (res) => {
        // No Content-Length: the body runs past the declared size.
        res.writeHead(200, { 'content-type': 'application/octet-stream' })
        res.write(bytes(600))
        res.end(bytes(600))
      },
    })
    const byLength = await copyArtifacts(storage, JOB, { adapter_url: `${cluster.url}/lying-length`, adapter_size: 100, validation_images: [] }, { clock: new InstantClock(), limits: limits([cluster.host], 1024) })
    expect(byLength).toMatchObject({ status: 'upload_failed', upload_error: 'the adapter is 4.0 KB, over the 1.0 KB cap (artifacts.maxSizeGb)' })
    const byBody = await copyArtifacts(storage, JOB, { adapter_url: `${cluster.url}/lying-body`, adapter_size: 1000, validation_images: [] }, { clock: new InstantClock(), limits: limits([cluster.host], 1024) })
    expect(byBody).toMatchObject({ status: 'upload_failed', upload_error: 'the adapter sent more than its 1000 B' })
    expect(await storage.stat('lora-models', `${JOB.user_id}/${JOB.id}/adapter.safetensors`)).toBeNull()
    expect(dir).toBeTruthy()
  })

  it('refuses a URL on another host, and a redirect to one, unless artifacts.allowedHosts lists it', async () => {
    const foreign = await serveFiles({ '/secret': send(bytes(10)) })
    cleanups.push(() => foreign.close())
    const { cluster, storage } = await setup({
      '/moved': (res) => {
        res.writeHead(302, { location: `${foreign.url}/secret` })
        res.end()
      },
    })
    const direct = await copyArtifacts(storage, JOB, { adapter_url: `${foreign.url}/secret`, adapter_size: 10, validation_images: [] }, { clock: new InstantClock(), limits: limits([cluster.host]) })
    expect(direct).toMatchObject({ status: 'upload_failed', upload_error: `refused to fetch an artifact from ${foreign.host}: not the cluster's host nor in artifacts.allowedHosts` })
    const redirected = await copyArtifacts(storage, JOB, { adapter_url: `${cluster.url}/moved`, adapter_size: 10, validation_images: [] }, { clock: new InstantClock(), limits: limits([cluster.host]) })
    expect(redirected).toMatchObject({ status: 'upload_failed', upload_error: `refused to fetch an artifact from ${foreign.host}: not the cluster's host nor in artifacts.allowedHosts` })
    expect(foreign.hits).toEqual([])
    // Listed: fetched, through the redirect too.
    const allowed = await copyArtifacts(storage, JOB, { adapter_url: `${cluster.url}/moved`, adapter_size: 10, validation_images: [] }, { clock: new InstantClock(), limits: limits([cluster.host, foreign.host]) })
    expect(allowed).toMatchObject({ status: 'stored' })
    expect(foreign.hits).toEqual(['/secret'])
  })
})

describe('artifact copies over TUS: local HTTP servers stand in for the cluster and for Supabase Storage (no Supabase server runs here)', () => {
  const KEY = 'service-role-key-for-the-stand-in'
  const DEADLINE_MS = 200
  const cleanups: (() => Promise<void> | void)[] = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })

  /** A large adapter (three TUS chunks), quick to make. */
  const adapter = Buffer.alloc(2 * TUS_CHUNK + 4321)
  for (let i = 0; i + 4 <= adapter.length; i += 4) adapter.writeUInt32LE(i, i)
  const path = `${JOB.user_id}/${JOB.id}/adapter.safetensors`

  async function setup(route: (res: import('node:http').ServerResponse) => void) {
    const cluster = await serveFiles({ '/adapter': route })
    cleanups.push(() => cluster.close())
    const storageServer = await startStorageStandIn(KEY)
    cleanups.push(() => storageServer.close())
    const dir = tempDir('lora-artifacts-tus-')
    cleanups.push(() => dir.remove())
    const storage = new SupabaseStorage({ url: storageServer.url, serviceRoleKey: KEY, stateDir: dir.path, retryDelays: [0, 10], timeoutMs: DEADLINE_MS })
    const artifacts: Artifacts = { adapter_url: `${cluster.url}/adapter`, adapter_size: adapter.length, validation_images: [] }
    const copy = () => copyArtifacts(storage, JOB, artifacts, { clock: new InstantClock(), limits: { allowedHosts: [cluster.host], maxBytes: 1024 ** 3 } })
    const tus = () => storageServer.requests.filter((r) => r.path.startsWith('/storage/v1/upload/resumable')).map((r) => `${r.method} ${r.headers['upload-offset'] ?? ''}`.trim())
    return { cluster, storageServer, copy, tus }
  }
  const sendAll = (res: import('node:http').ServerResponse) => {
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': adapter.length })
    res.end(adapter)
  }

  it(
    'fails each attempt at the deadline of the PATCH the storage stops reading, and keeps the record for retry',
    async () => {
      const { storageServer, copy, tus } = await setup(sendAll)
      storageServer.stall.fromPatch = 1
      storageServer.stall.afterBytes = 1
      const started = Date.now()
      const record = await copy()
      expect(record).toMatchObject({
        status: 'upload_failed',
        upload_error: `Resumable upload of lora-models/${path} stopped: Supabase Storage did not answer within ${DEADLINE_MS} ms (storage.timeout).`,
        source_urls: { adapter_url: expect.stringMatching(/\/adapter$/) },
      })
      expect(Date.now() - started).toBeLessThan(5_000)
      // Three attempts, each a new upload (an artifact is not resumed) whose first PATCH stalls: none retried.
      expect(tus()).toEqual(['POST', 'PATCH 0', 'POST', 'PATCH 0', 'POST', 'PATCH 0'])
      expect(storageServer.objects.size).toBe(0)
      expect(storageServer.violations).toEqual([])
    },
    10_000,
  )

  it(
    'copies a large adapter that the cluster serves slowly but steadily, the whole transfer far longer than the deadline',
    async () => {
      // 512 KB every 40 ms: about a second in all, five times the deadline, no pause near it.
      const { storageServer, copy, tus } = await setup((res) => {
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': adapter.length })
        let offset = 0
        const next = () => {
          if (offset >= adapter.length) return void res.end()
          res.write(adapter.subarray(offset, (offset += 512 * 1024)))
          setTimeout(next, 40)
        }
        next()
      })
      const started = Date.now()
      const record = await copy()
      expect(record).toMatchObject({ status: 'stored', storage_path: path, upload_error: null })
      expect(Date.now() - started).toBeGreaterThan(4 * DEADLINE_MS)
      expect(tus()).toEqual(['POST', 'PATCH 0', `PATCH ${TUS_CHUNK}`, `PATCH ${2 * TUS_CHUNK}`])
      expect(storageServer.objects.get(`lora-models/${path}`)!.bytes.equals(adapter)).toBe(true)
      expect(storageServer.violations).toEqual([])
    },
    10_000,
  )
})
