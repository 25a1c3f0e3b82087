import { afterEach } from 'vitest'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/**
 * A local stand-in for the Supabase Storage API and its TUS endpoint, as much of them
 * as lora uses. No Supabase server runs here, so the tests run SupabaseStorage
 * against this, and it checks every request the way the real service would refuse
 * it: the service-role key in both headers, TUS version and offsets, 6 MB chunks,
 * the metadata encoding. Problems are collected in `violations` for the test to assert.
 */
export interface LoggedRequest {
  method: string
  path: string
  headers: IncomingMessage['headers']
  bodyBytes: number
}

interface TusUpload {
  length: number
  offset: number
  metadata: Record<string, string>
  upsert: boolean
  chunks: Buffer[]
}

export const TUS_CHUNK = 6 * 1024 * 1024

export async function startStorageStandIn(key: string) {
  const buckets = new Set<string>()
  const objects = new Map<string, { bytes: Buffer; contentType: string; updatedAt: Date }>()
  const uploads = new Map<string, TusUpload>()
  const requests: LoggedRequest[] = []
  const violations: string[] = []
  /** PATCH requests to fail with 500 (counted from 1), to exercise retries. */
  const failPatches = new Set<number>()
  let patches = 0
  /**
   * Another writer holds the upload: PATCHes are answered as Supabase Storage v1.11
   * does (400 "Request aborted due to lock acquired"), or with 423 Locked. 0: no lock.
   */
  const lock = { status: 0 as 0 | 400 | 423 }
  /** "METHOD /path" prefixes of requests to leave unanswered. */
  const hangs = new Set<string>()
  /**
   * A storage that stops reading mid-upload: every PATCH from number `fromPatch` on
   * (counted from 1; 0: none) is read up to `afterBytes`, then neither read further
   * nor answered.
   */
  const stall = { fromPatch: 0, afterBytes: 0 }
  /** A slow but working storage: each TUS request is answered this long after it arrived (ms). */
  const tusDelay = { ms: 0 }
  let nextUpload = 1
  let patchesSeen = 0

  /** The request's body, or as much of it as was read before the stand-in stalled. */
  function readBody(req: IncomingMessage): Promise<{ body: Buffer; stalled: boolean }> {
    const isPatch = req.method === 'PATCH'
    if (isPatch) patchesSeen++
    const stallAt = isPatch && stall.fromPatch > 0 && patchesSeen >= stall.fromPatch ? stall.afterBytes : Infinity
    return new Promise((resolve) => {
      const chunks: Buffer[] = []
      let seen = 0
      req.on('data', (chunk: Buffer) => {
        chunks.push(chunk)
        seen += chunk.length
        if (seen >= stallAt) {
          // Paused, not destroyed: the connection stays open and nothing more is read.
          req.pause()
          return resolve({ body: Buffer.concat(chunks), stalled: true })
        }
      })
      req.on('end', () => resolve({ body: Buffer.concat(chunks), stalled: false }))
      // The client gave up on the request: there is no one left to answer.
      req.on('error', () => resolve({ body: Buffer.concat(chunks), stalled: true }))
    })
  }

  const server = createServer(async (req, res) => {
    const { body, stalled } = await readBody(req)
    const url = new URL(req.url ?? '/', 'http://standin')
    const path = decodeURIComponent(url.pathname)
    requests.push({ method: req.method!, path, headers: req.headers, bodyBytes: body.length })
    if (stalled) return
    // A storage that hangs: these requests are never answered.
    if ([...hangs].some((prefix) => `${req.method} ${path}`.startsWith(prefix))) return
    const isTus = path.startsWith('/storage/v1/upload/resumable')
    if (req.headers.authorization !== `Bearer ${key}`) {
      violations.push(`${req.method} ${path}: authorization is not the service-role key`)
      return json(res, 401, { statusCode: '401', error: 'Unauthorized', message: 'Invalid JWT' })
    }
    if (req.headers.apikey !== key) violations.push(`${req.method} ${path}: apikey header is not the service-role key`)
    if (isTus) {
      if (tusDelay.ms > 0) await new Promise((resolve) => setTimeout(resolve, tusDelay.ms))
      return tus(req, res, path, body)
    }

    let m: RegExpExecArray | null
    if (req.method === 'GET' && (m = /^\/storage\/v1\/bucket\/([^/]+)$/.exec(path))) {
      return buckets.has(m[1]!)
        ? json(res, 200, { id: m[1], name: m[1], public: false })
        : json(res, 400, { statusCode: '404', error: 'Bucket not found', message: 'Bucket not found' })
    }
    if (req.method === 'POST' && path === '/storage/v1/bucket') {
      const { id, name, public: isPublic } = JSON.parse(body.toString()) as { id?: string; name?: string; public?: boolean }
      if (isPublic !== false) violations.push('a bucket was created public')
      const bucket = id ?? name!
      if (buckets.has(bucket)) return json(res, 400, { statusCode: '409', error: 'Duplicate', message: 'The resource already exists' })
      buckets.add(bucket)
      return json(res, 200, { name: bucket })
    }
    if (req.method === 'POST' && (m = /^\/storage\/v1\/object\/sign\/([^/]+)\/(.+)$/.exec(path))) {
      const { expiresIn } = JSON.parse(body.toString()) as { expiresIn?: number }
      if (!Number.isInteger(expiresIn) || expiresIn! <= 0) violations.push(`sign ${m[2]}: expiresIn ${expiresIn}`)
      if (!objects.has(`${m[1]}/${m[2]}`)) return json(res, 400, { statusCode: '404', error: 'not_found', message: 'Object not found' })
      return json(res, 200, { signedURL: `/object/sign/${m[1]}/${m[2]}?token=eyJhbGciOiJIUzI1NiJ9.eyJ1cmwiOiJ4In0.c2lnbmF0dXJl${expiresIn}` })
    }
    if (req.method === 'GET' && (m = /^\/storage\/v1\/object\/info\/([^/]+)\/(.+)$/.exec(path))) {
      const object = objects.get(`${m[1]}/${m[2]}`)
      if (!object) return json(res, 400, { statusCode: '404', error: 'not_found', message: 'Object not found' })
      return json(res, 200, { name: m[2], bucket_id: m[1], size: object.bytes.length, last_modified: object.updatedAt.toISOString(), content_type: object.contentType })
    }
    if (req.method === 'POST' && (m = /^\/storage\/v1\/object\/list\/([^/]+)$/.exec(path))) {
      const { prefix, limit, offset } = JSON.parse(body.toString()) as { prefix: string; limit: number; offset: number }
      const base = prefix ? `${prefix}/` : ''
      const entries = new Map<string, unknown>()
      for (const [name, object] of objects) {
        if (!name.startsWith(`${m[1]}/${base}`)) continue
        const rest = name.slice(`${m[1]}/${base}`.length)
        const slash = rest.indexOf('/')
        if (slash >= 0) entries.set(rest.slice(0, slash), { name: rest.slice(0, slash), id: null, updated_at: null, metadata: null })
        else entries.set(rest, { name: rest, id: `id-${rest}`, updated_at: object.updatedAt.toISOString(), metadata: { size: object.bytes.length } })
      }
      const sorted = [...entries.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([, e]) => e)
      return json(res, 200, sorted.slice(offset, offset + limit))
    }
    if (req.method === 'DELETE' && (m = /^\/storage\/v1\/object\/([^/]+)$/.exec(path))) {
      const { prefixes } = JSON.parse(body.toString()) as { prefixes: string[] }
      const removed = prefixes.filter((p) => objects.delete(`${m![1]}/${p}`))
      return json(res, 200, removed.map((name) => ({ name })))
    }
    if (req.method === 'POST' && (m = /^\/storage\/v1\/object\/([^/]+)\/(.+)$/.exec(path))) {
      if (!buckets.has(m[1]!)) return json(res, 400, { statusCode: '404', error: 'Bucket not found', message: 'Bucket not found' })
      const name = `${m[1]}/${m[2]}`
      if (objects.has(name) && req.headers['x-upsert'] !== 'true') return json(res, 400, { statusCode: '409', error: 'Duplicate', message: 'The resource already exists' })
      objects.set(name, { bytes: body, contentType: String(req.headers['content-type']), updatedAt: new Date() })
      return json(res, 200, { Key: name })
    }
    if (req.method === 'GET' && (m = /^\/storage\/v1\/object\/([^/]+)\/(.+)$/.exec(path))) {
      const object = objects.get(`${m[1]}/${m[2]}`)
      if (!object) return json(res, 400, { statusCode: '404', error: 'not_found', message: 'Object not found' })
      res.writeHead(200, { 'content-type': object.contentType, 'content-length': object.bytes.length })
      return void res.end(object.bytes)
    }
    violations.push(`unexpected request ${req.method} ${path}`)
    json(res, 404, { statusCode: '404', error: 'not_found', message: 'no such route in the stand-in' })
  })

  function tus(req: IncomingMessage, res: ServerResponse, path: string, body: Buffer) {
    const tusHeaders = { 'tus-resumable': '1.0.0' }
    if (req.headers['tus-resumable'] !== '1.0.0') violations.push(`${req.method} ${path}: Tus-Resumable is ${req.headers['tus-resumable']}`)
    if (req.method === 'POST' && path === '/storage/v1/upload/resumable') {
      const length = Number(req.headers['upload-length'])
      if (!Number.isInteger(length)) violations.push('POST without Upload-Length')
      const metadata = decodeMetadata(String(req.headers['upload-metadata'] ?? ''), violations)
      for (const field of ['bucketName', 'objectName', 'contentType']) if (!metadata[field]) violations.push(`Upload-Metadata lacks ${field}`)
      if (!buckets.has(metadata.bucketName ?? '')) {
        res.writeHead(404, tusHeaders)
        return void res.end('Bucket not found')
      }
      const name = `${metadata.bucketName}/${metadata.objectName}`
      const upsert = req.headers['x-upsert'] === 'true'
      if (objects.has(name) && !upsert) {
        res.writeHead(409, tusHeaders)
        return void res.end('The resource already exists')
      }
      const id = Buffer.from(`${name}/${nextUpload++}`).toString('base64url')
      uploads.set(id, { length, offset: 0, metadata, upsert, chunks: [] })
      res.writeHead(201, { ...tusHeaders, location: `http://${req.headers.host}/storage/v1/upload/resumable/${id}` })
      return void res.end()
    }
    const id = path.slice('/storage/v1/upload/resumable/'.length)
    const upload = uploads.get(id)
    if (!upload) {
      res.writeHead(404, tusHeaders)
      return void res.end('Upload not found')
    }
    if (req.method === 'HEAD') {
      res.writeHead(200, { ...tusHeaders, 'upload-offset': upload.offset, 'upload-length': upload.length, 'cache-control': 'no-store' })
      return void res.end()
    }
    if (req.method === 'PATCH') {
      patches++
      if (req.headers['content-type'] !== 'application/offset+octet-stream') violations.push(`PATCH content-type ${req.headers['content-type']}`)
      const offset = Number(req.headers['upload-offset'])
      if (offset !== upload.offset) {
        res.writeHead(409, tusHeaders)
        return void res.end(`Upload-Offset ${offset} is not ${upload.offset}`)
      }
      const last = offset + body.length === upload.length
      if (!last && body.length !== TUS_CHUNK) violations.push(`PATCH of ${body.length} bytes: Supabase wants 6 MB chunks but the last`)
      if (offset + body.length > upload.length) violations.push('PATCH past Upload-Length')
      if (lock.status === 400) return json(res, 400, { statusCode: '400', error: 'Bad Request', message: 'Request aborted due to lock acquired' })
      if (lock.status === 423) {
        res.writeHead(423, tusHeaders)
        return void res.end('Locked')
      }
      if (failPatches.has(patches)) {
        res.writeHead(500, tusHeaders)
        return void res.end('Internal error (injected)')
      }
      upload.chunks.push(body)
      upload.offset += body.length
      if (upload.offset === upload.length) {
        const name = `${upload.metadata.bucketName}/${upload.metadata.objectName}`
        objects.set(name, { bytes: Buffer.concat(upload.chunks), contentType: upload.metadata.contentType!, updatedAt: new Date() })
      }
      res.writeHead(204, { ...tusHeaders, 'upload-offset': upload.offset })
      return void res.end()
    }
    violations.push(`unexpected TUS request ${req.method}`)
    res.writeHead(405, tusHeaders)
    res.end()
  }

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  return {
    url,
    buckets,
    objects,
    uploads,
    requests,
    violations,
    failPatches,
    lock,
    hangs,
    stall,
    tusDelay,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

/** TUS Upload-Metadata: "key base64value,key base64value". */
function decodeMetadata(header: string, violations: string[]): Record<string, string> {
  const out: Record<string, string> = {}
  for (const pair of header.split(',').filter(Boolean)) {
    const [k, v, ...rest] = pair.trim().split(' ')
    if (!k || rest.length > 0 || (v !== undefined && !/^[A-Za-z0-9+/]*={0,2}$/.test(v))) violations.push(`malformed Upload-Metadata pair "${pair}"`)
    out[k!] = Buffer.from(v ?? '', 'base64').toString('utf8')
  }
  return out
}

function json(res: ServerResponse, status: number, value: unknown): void {
  const text = JSON.stringify(value)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
  res.end(text)
}

/**
 * What a test file against the stand-in needs: what to undo after each test (last
 * first), a work folder, and a stand-in, with the given buckets, that closes then.
 */
export function standInFixture(key: string, prefix: string, buckets: string[] = []) {
  const cleanups: (() => Promise<void> | void)[] = []
  afterEach(async () => {
    for (const c of cleanups.splice(0).reverse()) await c()
  })
  return {
    cleanups,
    workDir(): string {
      const dir = mkdtempSync(join(tmpdir(), prefix))
      cleanups.push(() => rmSync(dir, { recursive: true, force: true }))
      return dir
    },
    async standIn() {
      const s = await startStorageStandIn(key)
      cleanups.push(() => s.close())
      for (const bucket of buckets) s.buckets.add(bucket)
      return s
    },
  }
}
