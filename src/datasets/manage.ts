import type { Context } from '../context.js'
import { LoraError } from '../errors.js'
import { actorName, recordAudit } from '../db/queries/audit.js'
import {
  countDatasetJobs,
  findActiveDatasetJobs,
  getDataset,
  listDatasets,
  lockDatasetForDelete,
  setDatasetObjectNote,
  softDeleteDataset,
  type DatasetFilter,
  type DatasetJobs,
  type DatasetRow,
} from '../db/queries/datasets.js'
import type { Storage } from '../storage/types.js'

/** A dataset as --json prints it: the row's columns, stable names. */
export function datasetJson(row: DatasetRow) {
  return {
    id: row.id,
    user_id: row.user_id,
    name: row.name,
    format: row.format,
    status: row.status,
    storage_bucket: row.storage_bucket,
    storage_path: row.storage_path,
    file_size: row.file_size,
    sha256: row.sha256,
    total_training_pairs: row.total_training_pairs,
    total_tokens: row.total_tokens,
    training_ready: row.training_ready,
    error_message: row.error_message,
    validated_at: row.validated_at,
    created_at: row.created_at,
    updated_at: row.updated_at,
    deleted_at: row.deleted_at,
  }
}

export async function listDatasetRows(ctx: Context, filter: DatasetFilter): Promise<DatasetRow[]> {
  return listDatasets(await ctx.db(), filter)
}

function notFound(id: string): LoraError {
  return new LoraError(`No dataset has id ${id}.`, { code: 'dataset_not_found', hint: 'List them with `lora datasets list`.' })
}

export interface ObjectCheck {
  /** null when storage could not be asked (the reason is in `error`). */
  exists: boolean | null
  size: number | null
  error?: string
}

export interface DatasetDetail {
  dataset: DatasetRow
  jobs: DatasetJobs
  object: ObjectCheck
}

/** One dataset, with the jobs that train on it and whether its object is really there. */
export async function showDataset(ctx: Context, id: string): Promise<DatasetDetail> {
  const db = await ctx.db()
  const dataset = await getDataset(db, id)
  if (!dataset) throw notFound(id)
  const jobs = await countDatasetJobs(db, id)
  let object: ObjectCheck
  try {
    const stored = await (await ctx.storage()).stat(dataset.storage_bucket, dataset.storage_path)
    object = { exists: stored !== null, size: stored?.size ?? null }
  } catch (error) {
    object = { exists: null, size: null, error: (error as Error).message }
  }
  return { dataset, jobs, object }
}

export interface DeletePlan {
  dataset: DatasetRow
  /** Already soft-deleted: only a leftover object, if any, remains to remove. */
  alreadyDeleted: boolean
  objectExists: boolean
  storage: Storage
}

export interface DeleteResult {
  id: string
  name: string
  deleted_at: Date | null
  already_deleted: boolean
  object: string
  object_removed: boolean
  dry_run: boolean
}

function usedByJobs(dataset: DatasetRow, active: { id: string; status: string }[]): LoraError {
  const [first] = active
  const more = active.length > 1 ? ` (and ${active.length - 1} more)` : ''
  return new LoraError(`Dataset ${dataset.name} (${dataset.id}) is used by ${first!.status} job ${first!.id}${more}: it cannot be deleted while it trains.`, {
    code: 'dataset_in_use',
    hint: `Cancel the job with \`lora jobs cancel ${first!.id}\`, or wait for it to end.`,
  })
}

/**
 * What deleting would do, checked before anything changes (and before asking): the
 * dataset exists, no unfinished job trains on it, and whether its object is there.
 */
export async function planDatasetDelete(ctx: Context, id: string): Promise<DeletePlan> {
  const db = await ctx.db()
  const dataset = await getDataset(db, id)
  if (!dataset) throw notFound(id)
  const storage = await ctx.storage()
  if (!dataset.deleted_at) {
    const active = await findActiveDatasetJobs(db, id)
    if (active.length > 0) throw usedByJobs(dataset, active)
  }
  const objectExists = (await storage.stat(dataset.storage_bucket, dataset.storage_path)) !== null
  return { dataset, alreadyDeleted: dataset.deleted_at !== null, objectExists, storage }
}

/**
 * Soft-deletes the row, then removes the object. In that order, a live row never
 * points at a missing object: between the two steps (or when removal fails) the row
 * is deleted and says in error_message that its object is left, and running the
 * delete again removes it. The row's change, the job check and the audit entry are
 * one transaction, the row locked against a job being queued on it meanwhile.
 */
export async function executeDatasetDelete(ctx: Context, plan: DeletePlan): Promise<DeleteResult> {
  const db = await ctx.db()
  const { storage } = plan
  const id = plan.dataset.id
  let dataset = plan.dataset
  const objectName = `${dataset.storage_bucket}/${dataset.storage_path}`
  if (!plan.alreadyDeleted) {
    const deleted = await db.transaction(async (tx) => {
      const locked = await lockDatasetForDelete(tx, id)
      if (!locked) throw notFound(id)
      if (locked.deleted_at) return locked
      // A fresh statement after the lock: it sees a job queued while we waited.
      const active = await findActiveDatasetJobs(tx, id)
      if (active.length > 0) throw usedByJobs(locked, active)
      const now = ctx.clock.now()
      const row = await softDeleteDataset(tx, id, now)
      await recordAudit(
        tx,
        actorName(ctx.env),
        {
          action: 'datasets.delete',
          target: id,
          count: 1,
          details: { name: locked.name, user_id: locked.user_id, object: objectName, file_size: locked.file_size, status: locked.status },
        },
        now,
      )
      return row!
    })
    dataset = deleted
  }
  try {
    await storage.remove(dataset.storage_bucket, [dataset.storage_path])
  } catch (error) {
    const reason = (error as Error).message.replace(/\.$/, '')
    await setDatasetObjectNote(db, id, `Deleted, but its object ${objectName} could not be removed: ${reason}.`, ctx.clock.now())
    throw new LoraError(`Dataset ${dataset.name} (${id}) is deleted, but its object ${objectName} could not be removed: ${reason}.`, {
      code: 'object_not_removed',
      hint: `Run \`lora datasets delete ${id} --yes\` again to remove it.`,
      cause: error,
    })
  }
  if (dataset.error_message?.startsWith('Deleted, but its object')) await setDatasetObjectNote(db, id, null, ctx.clock.now())
  return {
    id,
    name: dataset.name,
    deleted_at: dataset.deleted_at,
    already_deleted: plan.alreadyDeleted,
    object: objectName,
    object_removed: plan.objectExists,
    dry_run: false,
  }
}
