import type { Storage } from './types.js'
import { BUCKETS } from './types.js'

/**
 * The buckets lora writes to. A fresh Supabase project has none of them; they are
 * created (private) when the daemon starts and by `db migrate`, so the first
 * completed job's artifacts have somewhere to go.
 */
export const PLATFORM_BUCKETS = [BUCKETS.datasets, BUCKETS.models, BUCKETS.validationImages] as const

/** Creates each platform bucket that is missing; returns the buckets, in order. */
export async function ensurePlatformBuckets(storage: Storage): Promise<string[]> {
  for (const bucket of PLATFORM_BUCKETS) await storage.ensureBucket(bucket)
  return [...PLATFORM_BUCKETS]
}
