import type { Queryable } from '../types.js'

/** The type of user_training_limits.month_reset_date: DATE here, TIMESTAMPTZ on older platform databases. */
export async function resetDateType(q: Queryable): Promise<'date' | 'timestamptz'> {
  const [row] = await q.query<{ udt_name: string }>(
    `SELECT udt_name FROM information_schema.columns
      WHERE table_schema = 'public' AND table_name = 'user_training_limits' AND column_name = 'month_reset_date'`,
  )
  return row?.udt_name === 'timestamptz' ? 'timestamptz' : 'date'
}

export interface LimitToReset {
  user_id: string
  loras_created_this_month: number
  month_reset_date: string | Date | null
}

/** The month's start as the column holds it: its first day (DATE) or first instant (TIMESTAMPTZ). */
function boundary(type: 'date' | 'timestamptz', monthStart: Date, monthDay: string): [string, Date | string] {
  return type === 'date' ? ['$1::date', monthDay] : ['$1::timestamptz', monthStart]
}

export async function findLimitsToReset(q: Queryable, type: 'date' | 'timestamptz', monthStart: Date, monthDay: string, userId: string | null): Promise<LimitToReset[]> {
  const [start, value] = boundary(type, monthStart, monthDay)
  return q.query<LimitToReset>(
    `SELECT user_id, loras_created_this_month, month_reset_date FROM user_training_limits
      WHERE (month_reset_date IS NULL OR month_reset_date < ${start}) AND ($2::uuid IS NULL OR user_id = $2::uuid) ORDER BY user_id`,
    [value, userId],
  )
}

/** The monthly reset, guarded by the date: a second run in the same month changes nothing. */
export async function resetMonthlyLimits(q: Queryable, type: 'date' | 'timestamptz', monthStart: Date, monthDay: string, userId: string | null, now: Date): Promise<LimitToReset[]> {
  const [start, value] = boundary(type, monthStart, monthDay)
  return q.query<LimitToReset>(
    `UPDATE user_training_limits
        SET loras_created_this_month = 0, month_reset_date = ${start}, updated_at = $3
      WHERE (month_reset_date IS NULL OR month_reset_date < ${start}) AND ($2::uuid IS NULL OR user_id = $2::uuid)
      RETURNING user_id, loras_created_this_month, month_reset_date`,
    [value, userId, now],
  )
}

export async function userHasLimits(q: Queryable, userId: string): Promise<boolean> {
  const rows = await q.query('SELECT 1 FROM user_training_limits WHERE user_id = $1', [userId])
  return rows.length > 0
}

export async function countOldReadNotifications(q: Queryable, cutoff: Date): Promise<number> {
  const [row] = await q.query<{ n: number }>('SELECT count(*)::int AS n FROM notifications WHERE read AND created_at < $1', [cutoff])
  return row?.n ?? 0
}

/** One batch: rows another cleanup holds are skipped, not waited for, and deleted once. */
export async function deleteOldReadNotifications(q: Queryable, cutoff: Date, batch: number): Promise<number> {
  const rows = await q.query(
    `DELETE FROM notifications WHERE id IN (
       SELECT id FROM notifications WHERE read AND created_at < $1 LIMIT $2 FOR UPDATE SKIP LOCKED
     ) RETURNING id`,
    [cutoff, batch],
  )
  return rows.length
}

export interface ArchivalCandidate {
  id: string
  job_id: string
  user_id: string
  name: string | null
  storage_path: string | null
  size_bytes: number
  last_used_at: Date | null
  created_at: Date
}

export async function findArchivalCandidates(q: Queryable, unusedSince: Date): Promise<ArchivalCandidate[]> {
  return q.query<ArchivalCandidate>(
    `SELECT id, job_id, user_id, name, storage_path,
            (coalesce((artifacts->>'lora_adapter_size')::bigint, 0) + coalesce((artifacts->>'full_model_size')::bigint, 0)) AS size_bytes,
            last_used_at, created_at
       FROM model_artifacts
      WHERE deleted_at IS NULL AND coalesce(last_used_at, created_at) < $1
      ORDER BY coalesce(last_used_at, created_at)`,
    [unusedSince],
  )
}

export interface ImagesToClean {
  id: string
  validation_image_urls: string[]
}

export async function findValidationImagesOlderThan(q: Queryable, cutoff: Date, limit: number): Promise<ImagesToClean[]> {
  return q.query<ImagesToClean>(
    `SELECT id, validation_image_urls FROM model_artifacts
      WHERE cardinality(validation_image_urls) > 0 AND created_at < $1 ORDER BY created_at LIMIT $2`,
    [cutoff, limit],
  )
}

/** Cleared only when the row still lists exactly what was deleted from storage. */
export async function clearValidationImages(q: Queryable, id: string, expected: string[], now: Date): Promise<boolean> {
  const rows = await q.query(
    `UPDATE model_artifacts SET validation_image_urls = '{}', updated_at = $3
      WHERE id = $1 AND validation_image_urls = $2::text[] RETURNING id`,
    [id, expected, now],
  )
  return rows.length > 0
}

export interface FailedUpload {
  id: string
  job_id: string
  user_id: string
  upload_attempts: number
  artifacts: { lora_adapter_size?: number; validation_image_sizes?: number[] }
  source_urls: { adapter_url: string; validation_image_urls: string[] }
}

export async function findFailedUploads(q: Queryable, maxAttempts: number): Promise<FailedUpload[]> {
  return q.query<FailedUpload>(
    `SELECT id, job_id, user_id, upload_attempts, artifacts, source_urls FROM model_artifacts
      WHERE status = 'upload_failed' AND source_urls IS NOT NULL AND upload_attempts < $1 ORDER BY updated_at`,
    [maxAttempts],
  )
}

export async function markUploadStored(q: Queryable, id: string, storagePath: string, images: string[], now: Date): Promise<boolean> {
  const rows = await q.query(
    `UPDATE model_artifacts SET status = 'stored', storage_path = $2, validation_image_urls = $3::text[], source_urls = NULL,
            upload_error = NULL, upload_attempts = upload_attempts + 1, updated_at = $4
      WHERE id = $1 AND status = 'upload_failed' RETURNING id`,
    [id, storagePath, images, now],
  )
  return rows.length > 0
}

export async function markUploadFailedAgain(q: Queryable, id: string, error: string, now: Date): Promise<number | null> {
  const [row] = await q.query<{ upload_attempts: number }>(
    `UPDATE model_artifacts SET upload_attempts = upload_attempts + 1, upload_error = $2, updated_at = $3
      WHERE id = $1 AND status = 'upload_failed' RETURNING upload_attempts`,
    [id, error, now],
  )
  return row?.upload_attempts ?? null
}

export interface KnownClusterJob {
  id: string
  status: string
  started_at: Date | null
  created_at: Date
  external_job_id: string | null
  gpu_config: { gpu_type?: string; num_gpus?: number; cost_per_gpu_hour?: number }
}

export async function findJobsByIds(q: Queryable, ids: string[]): Promise<KnownClusterJob[]> {
  if (ids.length === 0) return []
  return q.query<KnownClusterJob>(
    `SELECT id, status, started_at, created_at, external_job_id, gpu_config FROM training_jobs WHERE id = ANY($1::uuid[])`,
    [ids],
  )
}

export interface OrphanRecord {
  cluster: string
  external_job_id: string
  job_id: string | null
  reason: string
  estimated_hourly_cost: number
  started_at: Date | null
}

/** Records an orphan (or refreshes its reason); returns its attempts so far. */
export async function recordOrphan(q: Queryable, orphan: OrphanRecord, now: Date): Promise<{ id: string; attempts: number; status: string }> {
  const [row] = await q.query<{ id: string; attempts: number; status: string }>(
    `INSERT INTO lora_ops.orphaned_instances (cluster, external_job_id, job_id, reason, estimated_hourly_cost, started_at, first_seen_at)
     VALUES ($1, $2, $3, $4, $5, $6, $7)
     ON CONFLICT (cluster, external_job_id) DO UPDATE
        SET reason = EXCLUDED.reason, status = CASE WHEN lora_ops.orphaned_instances.status = 'cleaned' THEN 'detected' ELSE lora_ops.orphaned_instances.status END
     RETURNING id, attempts, status`,
    [orphan.cluster, orphan.external_job_id, orphan.job_id, orphan.reason, orphan.estimated_hourly_cost, orphan.started_at, now],
  )
  return row!
}

export async function updateOrphan(q: Queryable, id: string, status: 'cancelling' | 'cleaned' | 'failed', attempts: number, error: string | null, now: Date): Promise<void> {
  await q.query(
    `UPDATE lora_ops.orphaned_instances
        SET status = $2, attempts = $3, last_error = $4, last_attempt_at = $5,
            cleaned_at = CASE WHEN $2 = 'cleaned' THEN $5 ELSE cleaned_at END
      WHERE id = $1`,
    [id, status, attempts, error, now],
  )
}
