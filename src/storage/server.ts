import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import { createReadStream } from 'node:fs'
import { readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { AddressInfo } from 'node:net'
import { pipeline } from 'node:stream/promises'
import type { Clock } from '../clock.js'
import { systemClock } from '../clock.js'
import { loadSigningKey, verifyToken } from './signing.js'
import { checkBucket, checkObjectPath } from './paths.js'

/** Where a process serving the folder's signed URLs says so, for the others. */
export const SERVER_FILE = '.server.json'
const SIGN_PREFIX = '/storage/v1/object/sign/'

export interface FolderServer {
  /** Base URL: http://127.0.0.1:PORT */
  url: string
  close(): Promise<void>
}

export interface ServeOptions {
  port?: number
  host?: string
  clock?: Clock
  /** Write the base URL to .server.json so that other lora processes sign with it (default true). */
  announce?: boolean
}

export interface ServerInfo {
  url: string
  pid: number
}

/**
 * Serves the folder storage's signed URLs over loopback, the way Supabase Storage
 * serves its own: GET /storage/v1/object/sign/BUCKET/PATH?token=JWT. The token's
 * signature, object and expiry are checked on every request: 403 once expired.
 * The process that holds the embedded stack runs it (`lora local start`, `lora daemon`).
 */
export async function serveFolderStorage(storageDir: string, options: ServeOptions = {}): Promise<FolderServer> {
  const clock = options.clock ?? systemClock
  const key = await loadSigningKey(storageDir)
  const server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) sendJson(res, 500, 'InternalError', (error as Error).message)
      else res.destroy()
    })
  })

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://local')
    if (!url.pathname.startsWith(SIGN_PREFIX)) return sendJson(res, 404, 'NotFound', 'not a signed object URL')
    if (req.method !== 'GET' && req.method !== 'HEAD') return sendJson(res, 405, 'MethodNotAllowed', 'GET or HEAD only')
    let segments: string[]
    try {
      segments = url.pathname.slice(SIGN_PREFIX.length).split('/').map(decodeURIComponent)
    } catch {
      return sendJson(res, 400, 'InvalidPath', 'the path is not properly encoded')
    }
    const [bucket, ...rest] = segments
    const path = rest.join('/')
    try {
      checkBucket(bucket ?? '')
      checkObjectPath(path)
    } catch {
      return sendJson(res, 400, 'InvalidPath', 'not a bucket and object path')
    }
    const token = url.searchParams.get('token')
    if (!token) return sendJson(res, 400, 'InvalidJWT', 'the token is missing')
    const check = verifyToken(key, token, `${bucket}/${path}`, Math.floor(clock.now().getTime() / 1000))
    if (!check.ok) {
      const message = check.reason === 'expired' ? 'jwt expired' : check.reason === 'wrong_object' ? 'the token grants another object' : 'invalid signature'
      return sendJson(res, 403, 'InvalidJWT', message)
    }
    const file = join(storageDir, bucket!, ...rest)
    let size: number
    try {
      const info = await stat(file)
      if (!info.isFile()) throw new Error('not a file')
      size = info.size
    } catch {
      return sendJson(res, 404, 'not_found', 'Object not found')
    }
    let start = 0
    let end = size - 1
    const range = req.headers.range
    if (range) {
      const match = /^bytes=(\d*)-(\d*)$/.exec(range.trim())
      const from = match?.[1] ? Number(match[1]) : null
      const to = match?.[2] ? Number(match[2]) : null
      if (!match || (from === null && to === null)) return sendJson(res, 416, 'InvalidRange', 'one bytes=FROM-TO range only')
      if (from === null) start = Math.max(0, size - to!)
      else {
        start = from
        if (to !== null) end = Math.min(to, size - 1)
      }
      if (start > end || start >= size) {
        res.writeHead(416, { 'content-range': `bytes */${size}` })
        return void res.end()
      }
    }
    const headers = {
      'content-type': contentTypeOf(path),
      'content-length': String(end - start + 1),
      'accept-ranges': 'bytes',
      'cache-control': 'no-store',
    }
    if (range) res.writeHead(206, { ...headers, 'content-range': `bytes ${start}-${end}/${size}` })
    else res.writeHead(200, headers)
    if (req.method === 'HEAD' || size === 0) return void res.end()
    await pipeline(createReadStream(file, { start, end }), res)
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port ?? 0, options.host ?? '127.0.0.1', () => {
      server.off('error', reject)
      resolve()
    })
  })
  const address = server.address() as AddressInfo
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address
  const baseUrl = `http://${host}:${address.port}`
  const announce = options.announce ?? true
  if (announce) await writeServerInfo(storageDir, { url: baseUrl, pid: process.pid })

  let closed: Promise<void> | undefined
  return {
    url: baseUrl,
    close() {
      closed ??= (async () => {
        if (announce) {
          const current = await readServerInfo(storageDir)
          if (current?.url === baseUrl && current.pid === process.pid) await rm(join(storageDir, SERVER_FILE), { force: true })
        }
        await new Promise<void>((resolve) => {
          server.close(() => resolve())
          server.closeAllConnections()
        })
      })()
      return closed
    },
  }
}

function sendJson(res: ServerResponse, status: number, error: string, message: string): void {
  const body = JSON.stringify({ statusCode: String(status), error, message })
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
  res.end(body)
}

function contentTypeOf(path: string): string {
  if (/\.jsonl$/i.test(path)) return 'application/x-ndjson'
  if (/\.json$/i.test(path)) return 'application/json'
  if (/\.jpe?g$/i.test(path)) return 'image/jpeg'
  if (/\.png$/i.test(path)) return 'image/png'
  return 'application/octet-stream'
}

async function writeServerInfo(storageDir: string, info: ServerInfo): Promise<void> {
  const path = join(storageDir, SERVER_FILE)
  const temp = `${path}.${process.pid}.tmp`
  await writeFile(temp, JSON.stringify(info), { mode: 0o600 })
  await rename(temp, path)
}

export async function readServerInfo(storageDir: string): Promise<ServerInfo | null> {
  try {
    const info = JSON.parse(await readFile(join(storageDir, SERVER_FILE), 'utf8')) as Partial<ServerInfo>
    return typeof info.url === 'string' && typeof info.pid === 'number' ? { url: info.url, pid: info.pid } : null
  } catch {
    return null
  }
}
