import type { Readable } from 'node:stream'

/** The platform's buckets (seeds 001 and 004). */
export const BUCKETS = {
  datasets: 'lora-datasets',
  trainingFiles: 'training-files',
  models: 'lora-models',
  validationImages: 'lora-validation-images',
} as const

export interface StoredObject {
  path: string
  size: number
  updatedAt: Date | null
}

export interface UploadSource {
  /** The bytes from `start` on: a resumed upload asks for the rest only. */
  open(start: number): Readable
  size: number
  contentType?: string
}

export interface UploadOptions {
  /** Called as bytes are confirmed by the store: sent so far, total. */
  onProgress?: (sent: number, total: number) => void
  /** Called once the store knows where the upload starts: 0, or the offset it resumes from. */
  onStart?: (offset: number) => void
  /**
   * Identifies this upload across processes, so that an interrupted one resumes
   * where it stopped when run again (the sha256 of the content is a good key).
   */
  resumeKey?: string
  upsert?: boolean
  signal?: AbortSignal
}

/**
 * Object storage, as lora uses it: Supabase Storage in production, a folder on the
 * embedded stack. Paths are relative to the bucket; no leading slash.
 */
export interface Storage {
  readonly kind: 'supabase' | 'folder'
  bucketExists(bucket: string): Promise<boolean>
  /** Creates the bucket (private) when missing. */
  ensureBucket(bucket: string): Promise<void>
  upload(bucket: string, path: string, source: UploadSource, options?: UploadOptions): Promise<void>
  uploadBytes(bucket: string, path: string, bytes: Uint8Array, contentType?: string): Promise<void>
  download(bucket: string, path: string): Promise<Readable>
  /** A URL that reads the object without credentials until it expires. */
  signedUrl(bucket: string, path: string, expiresInSeconds: number): Promise<string>
  stat(bucket: string, path: string): Promise<StoredObject | null>
  list(bucket: string, prefix?: string): Promise<StoredObject[]>
  /** Removes the objects; objects already gone are not an error. */
  remove(bucket: string, paths: string[]): Promise<void>
  close(): Promise<void>
}
