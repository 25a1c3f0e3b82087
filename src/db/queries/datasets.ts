import type { Queryable } from '../types.js'

export type DatasetStatus = 'uploading' | 'validating' | 'ready' | 'failed'

export interface DatasetRow {
  id: string
  user_id: string
  name: string
  description: string | null
  format: 'chat' | 'completion' | 'instruction'
  status: DatasetStatus
  storage_bucket: string
  storage_path: string
  file_size: number | null
  sha256: string | null
  total_training_pairs: number | null
  total_tokens: number | null
  training_ready: boolean
  error_message: string | null
  validated_at: Date | null
  created_at: Date
  updated_at: Date
  deleted_at: Date | null
}

const COLUMNS = `id, user_id, name, description, format, status, storage_bucket, storage_path, file_size, sha256,
  total_training_pairs, total_tokens, training_ready, error_message, validated_at, created_at, updated_at, deleted_at`

export interface NewDataset {
  id: string
  user_id: string
  name: string
  format: DatasetFormatName
  storage_bucket: string
  storage_path: string
  file_size: number
  sha256: string
}
type DatasetFormatName = DatasetRow['format']

/** A new dataset, `uploading`: validated, its bytes not yet in storage. */
export async function insertUploadingDataset(q: Queryable, dataset: NewDataset, now: Date): Promise<DatasetRow> {
  const [row] = await q.query<DatasetRow>(
    `INSERT INTO datasets (id, user_id, name, format, status, storage_bucket, storage_path, file_size, sha256, created_at, updated_at)
     VALUES ($1, $2, $3, $4, 'uploading', $5, $6, $7, $8, $9, $9)
     RETURNING ${COLUMNS}`,
    [dataset.id, dataset.user_id, dataset.name, dataset.format, dataset.storage_bucket, dataset.storage_path, dataset.file_size, dataset.sha256, now],
  )
  return row!
}

/**
 * Serialises uploads of the same content by the same user until the transaction
 * ends, so that two at once do not both create a dataset.
 */
export async function lockDatasetContent(q: Queryable, userId: string, sha256: string): Promise<void> {
  await q.query(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, [`lora.datasets:${userId}:${sha256}`])
}

/**
 * The user's datasets with this content, not deleted, ready ones first, then newest
 * first; locked, so that an upload finishing meanwhile is seen finished, not missed.
 */
export async function lockDatasetsBySha256(q: Queryable, userId: string, sha256: string): Promise<DatasetRow[]> {
  return q.query<DatasetRow>(
    `SELECT ${COLUMNS} FROM datasets
      WHERE user_id = $1 AND sha256 = $2 AND deleted_at IS NULL
      ORDER BY (status = 'ready') DESC, created_at DESC
      FOR UPDATE`,
    [userId, sha256],
  )
}

/** Takes an interrupted or failed upload up again; null when its state moved meanwhile. */
export async function restartDatasetUpload(q: Queryable, id: string, name: string | null, now: Date): Promise<DatasetRow | null> {
  const [row] = await q.query<DatasetRow>(
    `UPDATE datasets SET status = 'uploading', error_message = NULL, name = COALESCE($2, name), updated_at = $3
      WHERE id = $1 AND status IN ('uploading', 'failed') AND deleted_at IS NULL
      RETURNING ${COLUMNS}`,
    [id, name, now],
  )
  return row ?? null
}

export interface DatasetStats {
  format: DatasetFormatName
  total_training_pairs: number
  total_tokens: number
}

/** uploading -> ready, with its statistics. */
export async function markDatasetReady(q: Queryable, id: string, stats: DatasetStats, now: Date): Promise<DatasetRow | null> {
  const [row] = await q.query<DatasetRow>(
    `UPDATE datasets
        SET status = 'ready', format = $2, total_training_pairs = $3, total_tokens = $4, training_ready = true,
            error_message = NULL, validated_at = $5, updated_at = $5
      WHERE id = $1 AND status = 'uploading' AND deleted_at IS NULL
      RETURNING ${COLUMNS}`,
    [id, stats.format, stats.total_training_pairs, stats.total_tokens, now],
  )
  return row ?? null
}

/** uploading -> failed, with the reason. */
export async function markDatasetFailed(q: Queryable, id: string, reason: string, now: Date): Promise<DatasetRow | null> {
  const [row] = await q.query<DatasetRow>(
    `UPDATE datasets SET status = 'failed', error_message = $2, training_ready = false, updated_at = $3
      WHERE id = $1 AND status = 'uploading'
      RETURNING ${COLUMNS}`,
    [id, reason, now],
  )
  return row ?? null
}

export interface DatasetFilter {
  userId?: string
  status?: DatasetStatus
  includeDeleted?: boolean
  limit: number
}

export async function listDatasets(q: Queryable, filter: DatasetFilter): Promise<DatasetRow[]> {
  return q.query<DatasetRow>(
    `SELECT ${COLUMNS} FROM datasets
      WHERE ($1::uuid IS NULL OR user_id = $1)
        AND ($2::text IS NULL OR status = $2)
        AND ($3::boolean OR deleted_at IS NULL)
      ORDER BY created_at DESC, id
      LIMIT $4`,
    [filter.userId ?? null, filter.status ?? null, filter.includeDeleted ?? false, filter.limit],
  )
}

export async function getDataset(q: Queryable, id: string): Promise<DatasetRow | null> {
  const [row] = await q.query<DatasetRow>(`SELECT ${COLUMNS} FROM datasets WHERE id = $1`, [id])
  return row ?? null
}

/** The dataset's row, locked until the transaction ends (jobs lock it FOR SHARE to use it). */
export async function lockDatasetForDelete(q: Queryable, id: string): Promise<DatasetRow | null> {
  const [row] = await q.query<DatasetRow>(`SELECT ${COLUMNS} FROM datasets WHERE id = $1 FOR UPDATE`, [id])
  return row ?? null
}

const ACTIVE_JOB_STATUSES = ['queued', 'initializing', 'running']

export interface DatasetJobs {
  total: number
  active: number
}

/** How many jobs train on the dataset, and how many of them are not finished. */
export async function countDatasetJobs(q: Queryable, id: string): Promise<DatasetJobs> {
  const [row] = await q.query<DatasetJobs>(
    `SELECT count(*)::int AS total, count(*) FILTER (WHERE status = ANY($2::text[]))::int AS active
       FROM training_jobs WHERE dataset_id = $1`,
    [id, ACTIVE_JOB_STATUSES],
  )
  return row ?? { total: 0, active: 0 }
}

/** The first unfinished jobs (queued, initializing, running) that train on the dataset. */
export async function findActiveDatasetJobs(q: Queryable, id: string): Promise<{ id: string; status: string }[]> {
  return q.query<{ id: string; status: string }>(
    `SELECT id, status FROM training_jobs WHERE dataset_id = $1 AND status = ANY($2::text[]) ORDER BY created_at LIMIT 5`,
    [id, ACTIVE_JOB_STATUSES],
  )
}

/** Soft delete: the row stays (jobs refer to it), hidden from everything that reads datasets. */
export async function softDeleteDataset(q: Queryable, id: string, now: Date): Promise<DatasetRow | null> {
  const [row] = await q.query<DatasetRow>(
    `UPDATE datasets SET deleted_at = $2, training_ready = false, updated_at = $2
      WHERE id = $1 AND deleted_at IS NULL
      RETURNING ${COLUMNS}`,
    [id, now],
  )
  return row ?? null
}

/** Notes on a deleted dataset's row that its object could not be removed (or clears it). */
export async function setDatasetObjectNote(q: Queryable, id: string, note: string | null, now: Date): Promise<void> {
  await q.query(`UPDATE datasets SET error_message = $2, updated_at = $3 WHERE id = $1 AND deleted_at IS NOT NULL`, [id, note, now])
}
