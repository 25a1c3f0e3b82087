import { createHash, randomBytes } from 'node:crypto'
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import type { Readable } from 'node:stream'
import type { UploadSource } from './types.js'

/** What tus-js-client stores to resume an upload: its URL on the server, mostly. */
export interface PreviousUpload {
  size: number | null
  metadata: Record<string, string>
  creationTime: string
  urlStorageKey: string
  uploadUrl: string | null
  parallelUploadUrls: string[] | null
}

/**
 * tus-js-client's URL storage, one small JSON file per fingerprint under the state
 * directory, so that an upload interrupted in one process resumes in the next.
 */
export class FileUrlStore {
  constructor(private readonly dir: string) {}

  private fileOf(fingerprint: string): string {
    return join(this.dir, `${createHash('sha256').update(fingerprint).digest('hex').slice(0, 32)}.json`)
  }

  async findAllUploads(): Promise<PreviousUpload[]> {
    let names: string[]
    try {
      names = await readdir(this.dir)
    } catch {
      return []
    }
    const all: PreviousUpload[] = []
    for (const name of names.filter((n) => n.endsWith('.json'))) all.push(...(await this.read(join(this.dir, name))))
    return all
  }

  async findUploadsByFingerprint(fingerprint: string): Promise<PreviousUpload[]> {
    return this.read(this.fileOf(fingerprint))
  }

  async removeUpload(urlStorageKey: string): Promise<void> {
    const fingerprint = urlStorageKey.replace(/^tus::/, '').replace(/::[^:]*$/, '')
    const file = this.fileOf(fingerprint)
    const rest = (await this.read(file)).filter((u) => u.urlStorageKey !== urlStorageKey)
    if (rest.length === 0) await rm(file, { force: true })
    else await this.write(file, rest)
  }

  /** Forgets every upload of a fingerprint (it is complete). */
  async removeFingerprint(fingerprint: string): Promise<void> {
    await rm(this.fileOf(fingerprint), { force: true })
  }

  async addUpload(fingerprint: string, upload: Omit<PreviousUpload, 'urlStorageKey'>): Promise<string> {
    const key = `tus::${fingerprint}::${randomBytes(6).toString('hex')}`
    const file = this.fileOf(fingerprint)
    // One upload per fingerprint: the newest replaces what an older run left.
    await this.write(file, [{ ...upload, urlStorageKey: key }])
    return key
  }

  private async read(file: string): Promise<PreviousUpload[]> {
    try {
      const parsed = JSON.parse(await readFile(file, 'utf8')) as unknown
      return Array.isArray(parsed) ? (parsed as PreviousUpload[]) : []
    } catch {
      return []
    }
  }

  private async write(file: string, uploads: PreviousUpload[]): Promise<void> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 })
    const temp = `${file}.${process.pid}.tmp`
    await writeFile(temp, JSON.stringify(uploads), { mode: 0o600 })
    await rename(temp, file)
  }
}

/**
 * Reads an UploadSource in the slices tus asks for (6 MB each on Supabase). Slices
 * come in order, so one stream serves them all; a jump (a resume, a retry) reopens
 * the source at the new offset.
 */
export class SourceSlicer {
  private stream: Readable | null = null
  private iterator: AsyncIterator<Buffer> | null = null
  private position = 0
  private pending: Buffer = Buffer.alloc(0)

  constructor(private readonly source: UploadSource) {}

  get size(): number {
    return this.source.size
  }

  async slice(start: number, end: number): Promise<{ value: Buffer & { size?: number }; done: boolean }> {
    end = Math.min(end, this.source.size)
    if (!this.iterator || start !== this.position) {
      this.stream?.destroy()
      this.stream = this.source.open(start)
      this.iterator = this.stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>
      this.position = start
      this.pending = Buffer.alloc(0)
    }
    const want = end - start
    const parts: Buffer[] = [this.pending]
    let have = this.pending.length
    while (have < want) {
      const next = await this.iterator.next()
      if (next.done) break
      parts.push(next.value)
      have += next.value.length
    }
    const all = parts.length === 1 ? parts[0]! : Buffer.concat(parts, have)
    if (all.length < want) throw new Error(`the source ended at ${start + all.length} of its ${this.source.size} bytes`)
    const value: Buffer & { size?: number } = Buffer.from(all.subarray(0, want))
    this.pending = all.subarray(want)
    this.position = end
    value.size = value.length
    return { value, done: end >= this.source.size }
  }

  close(): void {
    this.stream?.destroy()
    this.stream = null
    this.iterator = null
  }
}

/** tus-js-client's file reader over lora's UploadSource. */
export const uploadSourceReader = {
  openFile(input: UploadSource): Promise<SourceSlicer> {
    return Promise.resolve(new SourceSlicer(input))
  },
}

/** The slices a request body is handed to the network in: each one is a sign of progress. */
const BODY_SLICE = 64 * 1024

/**
 * Bytes as a stream pulled a slice at a time, so that whoever sends it sees each
 * slice leave (a deadline on silence, a progress bar) rather than one opaque write.
 */
export function byteStream(bytes: Uint8Array, onSent?: (sent: number) => void): ReadableStream<Uint8Array> {
  let offset = 0
  return new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        const end = Math.min(bytes.byteLength, offset + BODY_SLICE)
        controller.enqueue(bytes.subarray(offset, end))
        offset = end
        onSent?.(offset)
        if (offset >= bytes.byteLength) controller.close()
      },
    },
    // Nothing read ahead: a slice is taken only when the network takes it.
    { highWaterMark: 0 },
  )
}

/**
 * tus-js-client's HTTP stack over a fetch of lora's (the Storage client's, with its
 * deadline), so that TUS requests obey storage.timeout as every other Storage call.
 */
export class FetchHttpStack {
  constructor(private readonly fetch: typeof globalThis.fetch) {}

  createRequest(method: string, url: string): FetchHttpRequest {
    return new FetchHttpRequest(this.fetch, method, url)
  }

  getName(): string {
    return 'FetchHttpStack'
  }
}

class FetchHttpRequest {
  private readonly headers: Record<string, string> = {}
  private onSent: (sent: number) => void = () => {}
  private readonly controller = new AbortController()

  constructor(
    private readonly fetch: typeof globalThis.fetch,
    private readonly method: string,
    private readonly url: string,
  ) {}

  getMethod(): string {
    return this.method
  }

  getURL(): string {
    return this.url
  }

  setHeader(header: string, value: string): void {
    this.headers[header] = value
  }

  getHeader(header: string): string | undefined {
    return this.headers[header]
  }

  setProgressHandler(handler: (sent: number) => void): void {
    this.onSent = handler
  }

  async send(body?: Uint8Array | null): Promise<FetchHttpResponse> {
    const headers = { ...this.headers }
    const init: RequestInit & { duplex?: 'half' } = { method: this.method, headers, signal: this.controller.signal }
    if (body) {
      headers['content-length'] = String(body.byteLength)
      init.body = byteStream(body, this.onSent)
      init.duplex = 'half'
    }
    const response = await this.fetch(this.url, init)
    return new FetchHttpResponse(response, await response.text())
  }

  abort(): Promise<void> {
    this.controller.abort()
    return Promise.resolve()
  }

  getUnderlyingObject(): AbortController {
    return this.controller
  }
}

class FetchHttpResponse {
  constructor(
    private readonly response: Response,
    private readonly body: string,
  ) {}

  getStatus(): number {
    return this.response.status
  }

  getHeader(header: string): string | undefined {
    return this.response.headers.get(header) ?? undefined
  }

  getBody(): string {
    return this.body
  }

  getUnderlyingObject(): Response {
    return this.response
  }
}
