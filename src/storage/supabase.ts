import { join } from 'node:path'
import { Readable } from 'node:stream'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'
import { LoraError } from '../errors.js'
import type { Storage, StoredObject, UploadOptions, UploadSource } from './types.js'
import { checkBucket, checkObjectPath } from './paths.js'
import { byteStream, FetchHttpStack, FileUrlStore, uploadSourceReader } from './tus.js'

/** Supabase requires 6 MB chunks for resumable uploads (all but the last). */
export const TUS_CHUNK_SIZE = 6 * 1024 * 1024
/** Up to this size a file goes in one request; larger ones go resumably (TUS). */
export const DIRECT_UPLOAD_LIMIT = 6 * 1024 * 1024

export interface SupabaseStorageOptions {
  url: string
  serviceRoleKey: string
  /** Where resumable uploads remember their server URL between runs. */
  stateDir: string
  /** Delays between retries of a failed TUS request (ms). */
  retryDelays?: number[]
  directUploadLimit?: number
  /**
   * Each Storage call's deadline (TUS requests included), on silence: no pause longer
   * than this while its request body goes out, before the answer, or in the answer's body.
   */
  timeoutMs?: number
}

/** The default deadline of a Storage API call (storage.timeout). */
export const STORAGE_TIMEOUT_MS = 60_000

type StorageClient = import('@supabase/supabase-js').SupabaseClient['storage']
interface ApiError {
  message: string
  status?: number
  statusCode?: string
}

/**
 * Supabase Storage through @supabase/supabase-js with the service-role key. Small
 * files go in one request; larger ones by TUS resumable upload (tus-js-client against
 * /storage/v1/upload/resumable), which resumes after an interruption, in this process
 * or the next, from the last chunk the server confirmed.
 */
export class SupabaseStorage implements Storage {
  readonly kind = 'supabase' as const
  private client: Promise<StorageClient> | undefined
  /** Every request to Supabase Storage goes through this: the API client's and TUS's. */
  private readonly fetch: typeof fetch

  constructor(private readonly options: SupabaseStorageOptions) {
    // Neither client has a deadline of its own: a hung storage call would hold a daemon's cycle.
    this.fetch = fetchWithDeadline(options.timeoutMs ?? STORAGE_TIMEOUT_MS)
  }

  private storage(): Promise<StorageClient> {
    this.client ??= (async () => {
      const { createClient } = await import('@supabase/supabase-js')
      const client = createClient(this.options.url, this.options.serviceRoleKey, {
        auth: { persistSession: false, autoRefreshToken: false, detectSessionInUrl: false },
        global: { fetch: this.fetch },
        // lora never subscribes to realtime; Node 20 has no WebSocket for it to build.
        realtime: { transport: NoRealtime as never },
      })
      return client.storage
    })()
    return this.client
  }

  async bucketExists(bucket: string): Promise<boolean> {
    checkBucket(bucket)
    const { error } = await (await this.storage()).getBucket(bucket)
    if (!error) return true
    if (isNotFound(error)) return false
    throw storageError(`Could not read bucket ${bucket}`, error)
  }

  async ensureBucket(bucket: string): Promise<void> {
    if (await this.bucketExists(bucket)) return
    const { error } = await (await this.storage()).createBucket(bucket, { public: false })
    // Another process may have created it meanwhile.
    if (error && !/already exists|duplicate/i.test(error.message)) throw storageError(`Could not create bucket ${bucket}`, error)
  }

  async upload(bucket: string, path: string, source: UploadSource, options: UploadOptions = {}): Promise<void> {
    checkBucket(bucket)
    checkObjectPath(path)
    if (source.size <= (this.options.directUploadLimit ?? DIRECT_UPLOAD_LIMIT)) {
      const chunks: Buffer[] = []
      for await (const chunk of source.open(0)) chunks.push(chunk as Buffer)
      options.onStart?.(0)
      options.onProgress?.(0, source.size)
      await this.uploadBytes(bucket, path, Buffer.concat(chunks), source.contentType, options.upsert ?? false)
      options.onProgress?.(source.size, source.size)
      return
    }
    await this.uploadResumable(bucket, path, source, options)
  }

  async uploadBytes(bucket: string, path: string, bytes: Uint8Array, contentType?: string, upsert = true): Promise<void> {
    checkBucket(bucket)
    checkObjectPath(path)
    const { error } = await (await this.storage())
      .from(bucket)
      .upload(path, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), { contentType: contentType ?? 'application/octet-stream', upsert })
    if (error) throw storageError(`Could not upload ${bucket}/${path}`, error)
  }

  private async uploadResumable(bucket: string, path: string, source: UploadSource, options: UploadOptions): Promise<void> {
    const { Upload } = await import('tus-js-client')
    const key = this.options.serviceRoleKey
    const fingerprint = `lora:${this.options.url}:${bucket}/${path}:${options.resumeKey ?? ''}`
    let started = false
    const urls = new FileUrlStore(join(this.options.stateDir, 'uploads'))
    await new Promise<void>((resolve, reject) => {
      const upload = new Upload(source as never, {
        endpoint: resumableEndpoint(this.options.url),
        chunkSize: TUS_CHUNK_SIZE,
        uploadSize: source.size,
        retryDelays: this.options.retryDelays ?? [0, 1_000, 3_000, 5_000, 10_000],
        // A request that passed storage.timeout has had its chance: the upload stops
        // there (a re-run resumes it) rather than waiting out the deadline again per retry.
        onShouldRetry: (error) => !deadlineOf(error) && retriable(error),
        httpStack: new FetchHttpStack(this.fetch) as never,
        headers: { authorization: `Bearer ${key}`, apikey: key, 'x-upsert': options.upsert ? 'true' : 'false' },
        metadata: {
          bucketName: bucket,
          objectName: path,
          contentType: source.contentType ?? 'application/octet-stream',
          cacheControl: '3600',
        },
        fileReader: uploadSourceReader as never,
        fingerprint: () => Promise.resolve(fingerprint),
        // Without a resume key nothing is remembered: such an upload starts afresh.
        storeFingerprintForResuming: Boolean(options.resumeKey),
        // Forgotten below, awaited: tus-js-client's own removal is not waited for.
        removeFingerprintOnSuccess: false,
        urlStorage: urls as never,
        onProgress: (sent, total) => options.onProgress?.(sent, total),
        // The first answer says where the upload starts: a new one (POST) at 0, a
        // resumed one at the offset its HEAD reports.
        onAfterResponse: (req, res) => {
          if (started) return
          const method = req.getMethod()
          if (method === 'POST' && res.getStatus() === 201) started = true
          else if (method === 'HEAD' && res.getStatus() < 300) started = true
          if (started) options.onStart?.(method === 'HEAD' ? Number(res.getHeader('Upload-Offset') ?? 0) : 0)
        },
        onSuccess: () => {
          options.signal?.removeEventListener('abort', onAbort)
          urls.removeFingerprint(fingerprint).then(resolve, reject)
        },
        onError: (error) => {
          options.signal?.removeEventListener('abort', onAbort)
          reject(tusError(bucket, path, error))
        },
      })
      const onAbort = () => {
        void upload.abort(false)
        const error = new Error('The upload was interrupted.')
        error.name = 'AbortError'
        reject(error)
      }
      if (options.signal?.aborted) return onAbort()
      options.signal?.addEventListener('abort', onAbort, { once: true })
      const start = async () => {
        if (options.resumeKey) {
          const previous = await upload.findPreviousUploads()
          if (previous[0]) upload.resumeFromPreviousUpload(previous[0])
        }
        upload.start()
      }
      start().catch(reject)
    })
  }

  async download(bucket: string, path: string): Promise<Readable> {
    checkBucket(bucket)
    checkObjectPath(path)
    const { data, error } = await (await this.storage()).from(bucket).download(path).asStream()
    if (error || !data) throw storageError(`Could not download ${bucket}/${path}`, error ?? { message: 'no body' })
    return Readable.fromWeb(data as unknown as WebReadableStream)
  }

  async signedUrl(bucket: string, path: string, expiresInSeconds: number): Promise<string> {
    checkBucket(bucket)
    checkObjectPath(path)
    const { data, error } = await (await this.storage()).from(bucket).createSignedUrl(path, Math.max(1, Math.floor(expiresInSeconds)))
    if (error || !data) throw storageError(`Could not sign a URL for ${bucket}/${path}`, error ?? { message: 'no URL' })
    return data.signedUrl
  }

  async stat(bucket: string, path: string): Promise<StoredObject | null> {
    checkBucket(bucket)
    checkObjectPath(path)
    const { data, error } = await (await this.storage()).from(bucket).info(path)
    if (error) {
      if (isNotFound(error)) return null
      throw storageError(`Could not read ${bucket}/${path}`, error)
    }
    const modified = data.lastModified ?? data.updatedAt
    return { path, size: Number(data.size ?? 0), updatedAt: modified ? new Date(modified) : null }
  }

  async list(bucket: string, prefix = ''): Promise<StoredObject[]> {
    checkBucket(bucket)
    const storage = await this.storage()
    const out: StoredObject[] = []
    // Supabase lists one folder level at a time: walk the folders under the prefix.
    const slash = prefix.lastIndexOf('/')
    const folders = [slash >= 0 ? prefix.slice(0, slash) : '']
    while (folders.length > 0) {
      const folder = folders.shift()!
      for (let offset = 0; ; offset += 1000) {
        const { data, error } = await storage.from(bucket).list(folder, { limit: 1000, offset, sortBy: { column: 'name', order: 'asc' } })
        if (error) throw storageError(`Could not list ${bucket}/${folder}`, error)
        for (const entry of data) {
          const path = folder ? `${folder}/${entry.name}` : entry.name
          if (entry.id === null) {
            if (path.startsWith(prefix) || prefix.startsWith(`${path}/`)) folders.push(path)
          } else if (path.startsWith(prefix)) {
            const meta = (entry.metadata ?? {}) as { size?: number }
            out.push({ path, size: Number(meta.size ?? 0), updatedAt: entry.updated_at ? new Date(entry.updated_at) : null })
          }
        }
        if (data.length < 1000) break
      }
    }
    return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0))
  }

  async remove(bucket: string, paths: string[]): Promise<void> {
    checkBucket(bucket)
    for (const path of paths) checkObjectPath(path)
    const storage = await this.storage()
    for (let i = 0; i < paths.length; i += 1000) {
      const { error } = await storage.from(bucket).remove(paths.slice(i, i + 1000))
      if (error && !isNotFound(error)) throw storageError(`Could not remove objects from ${bucket}`, error)
    }
  }

  async close(): Promise<void> {
    this.client = undefined
  }
}

/** A Storage call that passed storage.timeout: no byte moved for that long. */
export class StorageDeadlineError extends Error {
  constructor(timeoutMs: number) {
    super(`Supabase Storage did not answer within ${timeoutMs} ms (storage.timeout)`)
    this.name = 'StorageDeadlineError'
  }
}

/**
 * fetch with a deadline of our own, on silence rather than on the whole call: no pause
 * longer than `timeoutMs` while the request body goes out, then the answer within
 * `timeoutMs` of its last byte, then no such pause while the answer's body streams. A
 * large upload or download takes as long as it needs, as long as bytes keep moving.
 * Socket time is real time, not the injected clock's.
 */
export function fetchWithDeadline(timeoutMs: number): typeof fetch {
  return async (input, init = {}) => {
    const controller = new AbortController()
    const expired = () => controller.abort(new StorageDeadlineError(timeoutMs))
    // Unref'd: a body nobody reads must not keep a finished command alive.
    const arm = () => setTimeout(expired, timeoutMs).unref()
    let timer = arm()
    const rearm = () => {
      clearTimeout(timer)
      timer = arm()
    }
    const signal = init.signal ? AbortSignal.any([init.signal, controller.signal]) : controller.signal
    const request: RequestInit & { duplex?: 'half' } = { ...init, signal }
    // A body in bytes goes out a slice at a time, each slice a sign of progress.
    if (init.body instanceof Uint8Array) {
      const headers = new Headers(init.headers)
      headers.set('content-length', String(init.body.byteLength))
      request.headers = headers
      request.body = byteStream(init.body)
    }
    if (request.body instanceof ReadableStream) {
      request.duplex = 'half'
      request.body = (request.body as ReadableStream<Uint8Array>).pipeThrough(
        new TransformStream<Uint8Array, Uint8Array>({
          transform(chunk, out) {
            rearm()
            out.enqueue(chunk)
          },
          flush() {
            rearm()
          },
        }),
      )
    }
    let response: Response
    try {
      response = await fetch(input, request)
    } catch (error) {
      clearTimeout(timer)
      throw error
    }
    if (!response.body) {
      clearTimeout(timer)
      return response
    }
    rearm()
    const watched = response.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, out) {
          rearm()
          out.enqueue(chunk)
        },
        flush() {
          clearTimeout(timer)
        },
      }),
    )
    return new Response(watched, { status: response.status, statusText: response.statusText, headers: response.headers })
  }
}

class NoRealtime {
  constructor() {
    throw new Error('lora does not use Supabase Realtime')
  }
}

/**
 * The TUS endpoint. Supabase advises the direct storage hostname for large uploads:
 * https://PROJECT.supabase.co becomes https://PROJECT.storage.supabase.co.
 */
export function resumableEndpoint(url: string): string {
  const base = new URL(url)
  const hosted = /^([a-z0-9-]+)\.supabase\.co$/i.exec(base.hostname)
  if (hosted) base.hostname = `${hosted[1]}.storage.supabase.co`
  return `${base.origin}${base.pathname.replace(/\/$/, '')}/storage/v1/upload/resumable`
}

function isNotFound(error: ApiError): boolean {
  return error.status === 404 || error.statusCode === '404' || /not.?found/i.test(error.message)
}

function storageError(what: string, error: ApiError & { originalError?: unknown }): LoraError {
  const status = error.status ? ` (HTTP ${error.status})` : ''
  const code = error.originalError instanceof StorageDeadlineError ? 'storage_timeout' : 'storage_failed'
  return new LoraError(`${what}: ${error.message}${status}.`, { code, cause: error })
}

/** The deadline a tus-js-client error reports, when its request passed storage.timeout. */
function deadlineOf(error: Error): StorageDeadlineError | null {
  const cause = (error as { causingError?: unknown }).causingError
  return cause instanceof StorageDeadlineError ? cause : null
}

/** tus-js-client's own rule: network failures, 5xx, 409 and 423 are worth another try. */
function retriable(error: Error): boolean {
  const status = (error as { originalResponse?: { getStatus(): number } | null }).originalResponse?.getStatus() ?? 0
  return status < 400 || status >= 500 || status === 409 || status === 423
}

/**
 * Supabase lets one client at a time write to an upload. The other is told so in
 * more than one way: 409 on a PATCH, 423 Locked, or (storage v1.x) 400 "Request
 * aborted due to lock acquired". None of them means the upload itself is broken.
 */
export function isUploadLocked(status: number, message: string, method: string | undefined): boolean {
  if (status === 423) return true
  if (status === 409 && method === 'PATCH') return true
  return status === 400 && /lock acquired|locked/i.test(message)
}

function tusError(bucket: string, path: string, error: Error): Error {
  if (error.name === 'AbortError') return error
  const deadline = deadlineOf(error)
  if (deadline) {
    return new LoraError(`Resumable upload of ${bucket}/${path} stopped: ${deadline.message}.`, { code: 'storage_timeout', cause: error })
  }
  const detailed = error as {
    originalRequest?: { getMethod(): string } | null
    originalResponse?: { getStatus(): number; getBody(): string } | null
  }
  const response = detailed.originalResponse
  let detail = error.message.split('\n')[0] ?? error.message
  if (response) {
    let message = response.getBody()
    try {
      const body = JSON.parse(message) as { message?: string; error?: string }
      message = body.message ?? body.error ?? message
    } catch {
      // Not JSON: keep the text.
    }
    detail = `${message.slice(0, 200)} (HTTP ${response.getStatus()})`
    if (isUploadLocked(response.getStatus(), message, detailed.originalRequest?.getMethod())) {
      return new LoraError(`Another process is uploading ${bucket}/${path} right now.`, {
        code: 'upload_in_progress',
        hint: 'Wait for it to finish, or stop it and run again to resume.',
        cause: error,
      })
    }
  }
  return new LoraError(`Resumable upload of ${bucket}/${path} failed: ${detail}.`, { code: 'storage_failed', cause: error })
}
