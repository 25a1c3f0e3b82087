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
