import type { Context } from '../context.js'
import { BUCKETS } from '../storage/types.js'
import { ensurePlatformBuckets } from '../storage/buckets.js'
import { artifactLimits } from '../config/schema.js'
import { copyArtifacts, type Fetch } from '../daemon/artifacts.js'
import {
  clearValidationImages,
  findFailedUploads,
  findValidationImagesOlderThan,
  markUploadFailedAgain,
  markUploadStored,
  type FailedUpload,
  type ImagesToClean,
} from '../db/queries/maintenance.js'

const IMAGE_BATCH = 200

/**
 * Validation images past retention: deleted from storage first, then cleared from the
 * row, guarded by what the row listed. A crash in between leaves a row listing images
 * already gone, which the next run deletes again (gone is not an error) and clears.
 */
export async function cleanValidationImages(ctx: Context, cutoff: Date, dryRun: boolean): Promise<{ artifacts: ImagesToClean[]; images: number }> {
  const db = await ctx.db()
  const found: ImagesToClean[] = []
  let images = 0
  if (dryRun) {
    const rows = await findValidationImagesOlderThan(db, cutoff, 100_000)
    return { artifacts: rows, images: rows.reduce((n, r) => n + r.validation_image_urls.length, 0) }
  }
  const storage = await ctx.storage()
  for (;;) {
    const rows = await findValidationImagesOlderThan(db, cutoff, IMAGE_BATCH)
    let progressed = false
    for (const row of rows) {
      await storage.remove(BUCKETS.validationImages, row.validation_image_urls)
      if (await clearValidationImages(db, row.id, row.validation_image_urls, ctx.clock.now())) {
        found.push(row)
        images += row.validation_image_urls.length
        progressed = true
      }
    }
    if (rows.length < IMAGE_BATCH || !progressed || ctx.signal.aborted) break
  }
  return { artifacts: found, images }
}

export const UPLOAD_ATTEMPTS = 3

export interface UploadRetry {
  id: string
  job_id: string
  outcome: 'stored' | 'failed' | 'gave_up'
  attempts: number
  error: string | null
}

/**
 * Artifact copies that failed after training (seed 001, scenario 3), retried from the
 * cluster's URLs kept in the row; after the last attempt the artifact is left for a
 * person, and the caller alerts.
 */
export async function retryFailedUploads(ctx: Context, dryRun: boolean, fetch?: Fetch): Promise<{ pending: FailedUpload[]; results: UploadRetry[] }> {
  const db = await ctx.db()
  const pending = await findFailedUploads(db, UPLOAD_ATTEMPTS)
  if (dryRun) return { pending, results: [] }
  const storage = await ctx.storage()
  // Copies that failed for want of a bucket (a fresh project) succeed once it exists.
  if (pending.length > 0) await ensurePlatformBuckets(storage)
  // The hosts the copies may come from: every configured cluster's, and the listed ones.
  const limits = artifactLimits(await ctx.config(), pending.length > 0 ? await ctx.clusters().then((set) => set.list.map((c) => c.url), () => []) : [])
  const results: UploadRetry[] = []
  for (const row of pending) {
    const sizes = row.artifacts.validation_image_sizes ?? []
    const record = await copyArtifacts(
      storage,
      { id: row.job_id, user_id: row.user_id },
      {
        adapter_url: row.source_urls.adapter_url,
        adapter_size: row.artifacts.lora_adapter_size ?? 0,
        validation_images: row.source_urls.validation_image_urls.map((url, n) => ({ url, size: sizes[n] ?? 0 })),
      },
      { clock: ctx.clock, signal: ctx.signal, limits, ...(fetch ? { fetch } : {}) },
    )
    if (record.status === 'stored') {
      await markUploadStored(db, row.id, record.storage_path!, record.validation_image_urls, ctx.clock.now())
      results.push({ id: row.id, job_id: row.job_id, outcome: 'stored', attempts: row.upload_attempts + 1, error: null })
    } else {
      const attempts = (await markUploadFailedAgain(db, row.id, record.upload_error ?? 'unknown error', ctx.clock.now())) ?? row.upload_attempts + 1
      results.push({ id: row.id, job_id: row.job_id, outcome: attempts >= UPLOAD_ATTEMPTS ? 'gave_up' : 'failed', attempts, error: record.upload_error })
    }
  }
  return { pending, results }
}
