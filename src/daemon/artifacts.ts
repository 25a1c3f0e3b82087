import { randomUUID } from 'node:crypto'
import type { Storage } from '../storage/types.js'
import { BUCKETS } from '../storage/types.js'
import type { Clock } from '../clock.js'
import type { Artifacts } from '../cluster/contract.js'
import type { ArtifactRecord } from '../db/queries/jobs.js'

const ATTEMPT_BACKOFF_MS = [1_000, 2_000]

export type Fetch = (url: string, signal?: AbortSignal) => Promise<Uint8Array>

/** Downloads a file the cluster serves; a non-2xx answer is a failure. */
export const fetchBytes: Fetch = async (url, signal) => {
  const { request } = await import('undici')
  const response = await request(url, { method: 'GET', ...(signal ? { signal } : {}), headersTimeout: 30_000, bodyTimeout: 120_000 })
  if (response.statusCode < 200 || response.statusCode >= 300) {
    await response.body.dump()
    throw new Error(`the cluster answered ${response.statusCode} for an artifact`)
  }
  return new Uint8Array(await response.body.arrayBuffer())
}

/**
 * Copies a completed job's adapter into lora-models and its validation images into
 * lora-validation-images (DESIGN section 4). A copy that fails after its attempts
 * leaves a record marked upload_failed with the cluster's URLs kept, for `lora
 * cleanup uploads` to retry: the trained adapter is never lost.
 */
export async function copyArtifacts(
  storage: Storage,
  job: { id: string; user_id: string },
  artifacts: Artifacts,
  deps: { clock: Clock; fetch?: Fetch; signal?: AbortSignal },
): Promise<ArtifactRecord> {
  const fetch = deps.fetch ?? fetchBytes
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
      const adapter = await fetch(artifacts.adapter_url, deps.signal)
      await storage.uploadBytes(BUCKETS.models, adapterPath, adapter, 'application/octet-stream')
      for (const [n, image] of artifacts.validation_images.entries()) {
        const bytes = await fetch(image.url, deps.signal)
        await storage.uploadBytes(BUCKETS.validationImages, imagePaths[n]!, bytes, 'image/jpeg')
      }
      return { ...base, status: 'stored', storage_path: adapterPath, validation_image_urls: imagePaths, source_urls: null, upload_error: null }
    } catch (error) {
      if (deps.signal?.aborted) break
      lastError = (error as Error).message
    }
  }
  return { ...base, status: 'upload_failed', storage_path: null, validation_image_urls: [], source_urls: sourceUrls, upload_error: lastError }
}
