import type { Queryable } from '../types.js'

export interface DatasetForJob {
  id: string
  user_id: string
  name: string
  status: string
  total_tokens: number | null
  total_training_pairs: number | null
  deleted_at: Date | null
}

/** The dataset a job trains on, locked against deletion until the job is written. */
export async function lockDatasetForJob(q: Queryable, datasetId: string): Promise<DatasetForJob | null> {
  const [row] = await q.query<DatasetForJob>(
    `SELECT id, user_id, name, status, total_tokens, total_training_pairs, deleted_at FROM datasets WHERE id = $1 FOR SHARE`,
    [datasetId],
  )
  return row ?? null
}

export interface DatasetChoice {
  id: string
  user_id: string
  name: string
  status: string
  total_training_pairs: number | null
  total_tokens: number | null
  created_at: Date
}

const CHOICE_COLUMNS = 'id, user_id, name, status, total_training_pairs, total_tokens, created_at'

export async function readDatasetChoice(q: Queryable, id: string): Promise<DatasetChoice | null> {
  const [row] = await q.query<DatasetChoice>(`SELECT ${CHOICE_COLUMNS} FROM datasets WHERE id = $1 AND deleted_at IS NULL`, [id])
  return row ?? null
}

/** The user's datasets a job can train on, newest first: what `jobs submit` offers at a terminal. */
export async function listReadyDatasets(q: Queryable, userId: string, limit = 50): Promise<DatasetChoice[]> {
  return q.query<DatasetChoice>(
    `SELECT ${CHOICE_COLUMNS} FROM datasets WHERE user_id = $1 AND status = 'ready' AND deleted_at IS NULL ORDER BY created_at DESC, id LIMIT $2`,
    [userId, limit],
  )
}

export interface UserLimit {
  user_id: string
  loras_created_this_month: number
  monthly_limit: number
}

/** The user's monthly limit row, created on first use and locked for this transaction. */
export async function lockUserLimit(q: Queryable, userId: string, month: string): Promise<UserLimit> {
  await q.query(
    `INSERT INTO user_training_limits (user_id, month_reset_date) VALUES ($1, $2::date) ON CONFLICT (user_id) DO NOTHING`,
    [userId, month],
  )
  const [row] = await q.query<UserLimit>(
    `SELECT user_id, loras_created_this_month, monthly_limit FROM user_training_limits WHERE user_id = $1 FOR UPDATE`,
    [userId],
  )
  return row!
}

export interface NewJob {
  user_id: string
  dataset_id: string
  preset_id: string
  hyperparameters: Record<string, unknown>
  gpu_config: Record<string, unknown>
  total_epochs: number
  estimated_total_cost: number
  estimated_duration_hours: number
}

export async function insertQueuedJob(q: Queryable, job: NewJob, now: Date): Promise<{ id: string; created_at: Date }> {
  const [row] = await q.query<{ id: string; created_at: Date }>(
    `INSERT INTO training_jobs (user_id, dataset_id, preset_id, hyperparameters, gpu_config, status, current_stage,
                                total_epochs, estimated_total_cost, estimated_duration_hours, created_at, updated_at)
     VALUES ($1, $2, $3, $4, $5, 'queued', 'queued', $6, $7, $8, $9, $9)
     RETURNING id, created_at`,
    [job.user_id, job.dataset_id, job.preset_id, job.hyperparameters, job.gpu_config, job.total_epochs, job.estimated_total_cost, job.estimated_duration_hours, now],
  )
  return row!
}

export async function countUserJob(q: Queryable, userId: string, now: Date): Promise<void> {
  await q.query(
    `UPDATE user_training_limits SET loras_created_this_month = loras_created_this_month + 1, updated_at = $2 WHERE user_id = $1`,
    [userId, now],
  )
}
