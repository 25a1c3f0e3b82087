import { LoraError } from '../errors.js'

/** Bucket names as Supabase allows them; a leading dot is kept for lora's own files. */
const BUCKET = /^[a-z0-9][a-z0-9._-]{0,62}$/

export function checkBucket(bucket: string): void {
  if (!BUCKET.test(bucket)) {
    throw new LoraError(`"${bucket}" is not a bucket name: lower-case letters, digits, ".", "_" and "-".`, { code: 'invalid_bucket' })
  }
}

/** Object paths are relative to the bucket: no leading slash, no empty, "." or ".." segment. */
export function checkObjectPath(path: string): void {
  const bad =
    path.length === 0 ||
    path.length > 1024 ||
    path.includes('\0') ||
    path.includes('\\') ||
    path.split('/').some((segment) => segment === '' || segment === '.' || segment === '..')
  if (bad) throw new LoraError(`"${path}" is not an object path: segments separated by "/", none empty, "." or "..".`, { code: 'invalid_path' })
}

/** bucket/path with each segment percent-encoded, for URLs. */
export function encodeObjectUrl(bucket: string, path: string): string {
  return [bucket, ...path.split('/')].map(encodeURIComponent).join('/')
}
