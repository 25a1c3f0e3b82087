import { randomUUID } from 'node:crypto'
import { Transform, type Readable } from 'node:stream'
import type { Storage, UploadSource } from '../storage/types.js'
import { BUCKETS } from '../storage/types.js'
import type { Clock } from '../clock.js'
import type { Artifacts } from '../cluster/contract.js'
import type { ArtifactRecord } from '../db/queries/poll.js'
import { formatBytes } from '../datasets/progress.js'

const ATTEMPT_BACKOFF_MS = [1_000, 2_000]
const MAX_REDIRECTS = 5

/** Where artifacts may come from and how large they may be (artifacts.* in the profile). */
export interface ArtifactLimits {
  /** host or host:port values that may be fetched: the cluster's own host and the configured ones. */
  allowedHosts: string[]
  maxBytes: number
}

export interface ArtifactDownload {
  /** From Content-Length; null when the server does not say. */
  size: number | null
  body: Readable
}

export type Fetch = (url: string, options: ArtifactLimits & { signal?: AbortSignal }) => Promise<ArtifactDownload>

/** A failure that another attempt cannot mend (too large, a host we do not fetch from). */
class RefusedArtifact extends Error {}

/** Whether a URL's host is one lora fetches artifacts from: a listed host:port, or a listed host name on any port. */
export function hostAllowed(url: URL, allowedHosts: string[]): boolean {
  const host = url.host.toLowerCase()
  const name = url.hostname.toLowerCase()
  return allowedHosts.some((h) => {
    const entry = h.toLowerCase()
    return entry === host || entry === name
  })
}

/**
 * Opens a file the cluster serves, as a stream: never held whole in memory. Only
 * the allowed hosts are fetched, redirects included (each hop is checked), so a
 * cluster cannot point the daemon at an internal address; a non-2xx answer is a failure.
 */
export const fetchStream: Fetch = async (url, options) => {
  const { request } = await import('undici')
  let current = new URL(url)
  for (let hop = 0; ; hop++) {
    if (current.protocol !== 'http:' && current.protocol !== 'https:') throw new RefusedArtifact(`the artifact URL is not http(s) (${current.protocol})`)
    if (!hostAllowed(current, options.allowedHosts)) {
      throw new RefusedArtifact(`refused to fetch an artifact from ${current.host}: not the cluster's host nor in artifacts.allowedHosts`)
    }
    const response = await request(current, {
      method: 'GET',
      ...(options.signal ? { signal: options.signal } : {}),
      headersTimeout: 30_000,
      bodyTimeout: 120_000,
    })
    const location = response.headers.location
    if (response.statusCode >= 300 && response.statusCode < 400 && typeof location === 'string') {
      await response.body.dump()
      if (hop >= MAX_REDIRECTS) throw new Error(`the cluster redirected an artifact more than ${MAX_REDIRECTS} times`)
      current = new URL(location, current)
      continue
    }
    if (response.statusCode < 200 || response.statusCode >= 300) {
      await response.body.dump()
      throw new Error(`the cluster answered ${response.statusCode} for an artifact`)
    }
    const length = Number(response.headers['content-length'])
    return { size: Number.isInteger(length) && length >= 0 ? length : null, body: response.body }
  }
}

/** Passes the bytes through, failing the stream at the first byte past `limit` or when it ends short of `size`. */
function counted(body: Readable, size: number, what: string): Readable {
  let seen = 0
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      seen += chunk.length
      if (seen > size) return done(new RefusedArtifact(`the ${what} sent more than its ${formatBytes(size)}`))
      done(null, chunk)
    },
    flush(done) {
      done(seen < size ? new Error(`the ${what} ended at ${formatBytes(seen)} of ${formatBytes(size)}`) : null)
    },
  })
  body.on('error', (error) => counter.destroy(error))
  // The consumer (the storage upload) sees failures as the stream's: never unhandled.
  counter.on('error', () => {})
  return body.pipe(counter)
}

/** Closes a download cut short (refused, a failed upload): its abort is no one's error. */
function discard(body: Readable): void {
  body.on('error', () => {})
  if (!body.readableEnded) body.destroy()
}

/** Streams one file from the cluster into storage, within the limits. */
async function copyOne(
  storage: Storage,
  fetch: Fetch,
  url: string,
  declared: number,
  target: { bucket: string; path: string; contentType: string; what: string },
  limits: ArtifactLimits,
  signal?: AbortSignal,
): Promise<void> {
  if (declared > limits.maxBytes) {
    throw new RefusedArtifact(`the ${target.what} is ${formatBytes(declared)}, over the ${formatBytes(limits.maxBytes)} cap (artifacts.maxSizeGb)`)
  }
  const download = await fetch(url, { ...limits, ...(signal ? { signal } : {}) })
  const size = download.size ?? declared
  if (size > limits.maxBytes) {
    discard(download.body)
    throw new RefusedArtifact(`the ${target.what} is ${formatBytes(size)}, over the ${formatBytes(limits.maxBytes)} cap (artifacts.maxSizeGb)`)
  }
  let opened = false
  const source: UploadSource = {
    size,
    contentType: target.contentType,
    open(start) {
      // One pass over the download: a storage retry that needs the bytes again fails
      // this attempt, and the next attempt downloads afresh.
      if (opened || start !== 0) throw new Error(`the ${target.what} download cannot be rewound`)
      opened = true
      return counted(download.body, size, target.what)
    },
  }
  try {
    await storage.upload(target.bucket, target.path, source, { upsert: true, ...(signal ? { signal } : {}) })
  } finally {
    discard(download.body)
  }
}

/**
 * Copies a completed job's adapter into lora-models and its validation images into
 * lora-validation-images (DESIGN section 4), streamed, within the size cap, from
 * allowed hosts only. A copy that fails after its attempts (or at once, when it is
 * refused) leaves a record marked upload_failed with the reason and the cluster's
 * URLs kept, for `lora cleanup uploads` to retry: the trained adapter is never lost.
 */
export async function copyArtifacts(
  storage: Storage,
  job: { id: string; user_id: string },
  artifacts: Artifacts,
  deps: { clock: Clock; limits: ArtifactLimits; fetch?: Fetch; signal?: AbortSignal },
): Promise<ArtifactRecord> {
  const fetch = deps.fetch ?? fetchStream
  const adapterPath = `${job.user_id}/${job.id}/adapter.safetensors`
  const imagePaths = artifacts.validation_images.map((_, n) => `${job.user_id}/${job.id}/validation/${n}.jpg`)
  const sourceUrls = { adapter_url: artifacts.adapter_url, validation_image_urls: artifacts.validation_images.map((i) => i.url) }
  const base = {
    id: randomUUID(),
    job_id: job.id,
    name: `lora-${job.id.slice(0, 8)}`,
    artifacts: {
      lora_adapter_size: artifacts.adapter_size,
      validation_image_sizes: artifacts.validation_images.map((i) => i.size),
    },
  }
  let lastError = ''
  for (let attempt = 0; attempt <= ATTEMPT_BACKOFF_MS.length; attempt++) {
    if (attempt > 0) await deps.clock.sleep(ATTEMPT_BACKOFF_MS[attempt - 1]!, deps.signal)
    try {
      // Created when missing (a fresh project, a bucket removed by hand): cheap, and the
      // copy cannot succeed without them.
      await storage.ensureBucket(BUCKETS.models)
      if (artifacts.validation_images.length > 0) await storage.ensureBucket(BUCKETS.validationImages)
      await copyOne(storage, fetch, artifacts.adapter_url, artifacts.adapter_size, { bucket: BUCKETS.models, path: adapterPath, contentType: 'application/octet-stream', what: 'adapter' }, deps.limits, deps.signal)
      for (const [n, image] of artifacts.validation_images.entries()) {
        await copyOne(storage, fetch, image.url, image.size, { bucket: BUCKETS.validationImages, path: imagePaths[n]!, contentType: 'image/jpeg', what: `validation image ${n}` }, deps.limits, deps.signal)
      }
      return { ...base, status: 'stored', storage_path: adapterPath, validation_image_urls: imagePaths, source_urls: null, upload_error: null }
    } catch (error) {
      if (deps.signal?.aborted) break
      lastError = (error as Error).message
      if (error instanceof RefusedArtifact) break
    }
  }
  return { ...base, status: 'upload_failed', storage_path: null, validation_image_urls: [], source_urls: sourceUrls, upload_error: lastError }
}
