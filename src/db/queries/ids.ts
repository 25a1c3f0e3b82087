import type { Queryable } from '../types.js'

/**
 * Rows whose id starts with a prefix. The prefix arrives as the lowest and highest
 * UUIDs that start with it, so that the lookup is a range on the primary key's
 * index (a `text(id) LIKE 'abcd%'` would read every row).
 */
export interface JobIdMatch {
  id: string
  status: string
  created_at: Date
}

export async function findJobsByIdRange(q: Queryable, low: string, high: string, limit: number): Promise<JobIdMatch[]> {
  return q.query<JobIdMatch>(
    `SELECT id, status, created_at FROM training_jobs WHERE id BETWEEN $1::uuid AND $2::uuid ORDER BY id LIMIT $3`,
    [low, high, limit],
  )
}

export interface DatasetIdMatch {
  id: string
  name: string
  status: string
  user_id: string
  deleted_at: Date | null
}

export async function findDatasetsByIdRange(q: Queryable, low: string, high: string, limit: number): Promise<DatasetIdMatch[]> {
  return q.query<DatasetIdMatch>(
    `SELECT id, name, status, user_id, deleted_at FROM datasets WHERE id BETWEEN $1::uuid AND $2::uuid ORDER BY id LIMIT $3`,
    [low, high, limit],
  )
}

/** Datasets of any user (or of one) with exactly this name; deleted ones only when asked. */
export async function findDatasetsNamed(q: Queryable, name: string, options: { userId?: string; includeDeleted: boolean; limit: number }): Promise<DatasetIdMatch[]> {
  return q.query<DatasetIdMatch>(
    `SELECT id, name, status, user_id, deleted_at FROM datasets
      WHERE name = $1 AND ($2::uuid IS NULL OR user_id = $2) AND ($3::boolean OR deleted_at IS NULL)
      ORDER BY created_at DESC, id LIMIT $4`,
    [name, options.userId ?? null, options.includeDeleted, options.limit],
  )
}

/** The newest ids, for shell completion. */
export async function listRecentJobIds(q: Queryable, limit: number): Promise<string[]> {
  const rows = await q.query<{ id: string }>(`SELECT id FROM training_jobs ORDER BY created_at DESC LIMIT $1`, [limit])
  return rows.map((r) => r.id)
}

export async function listRecentDatasetIds(q: Queryable, limit: number): Promise<string[]> {
  const rows = await q.query<{ id: string }>(`SELECT id FROM datasets WHERE deleted_at IS NULL ORDER BY created_at DESC LIMIT $1`, [limit])
  return rows.map((r) => r.id)
}
