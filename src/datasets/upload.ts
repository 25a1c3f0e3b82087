import { randomUUID } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import type { Stats } from 'node:fs'
import { basename, resolve } from 'node:path'
import type { Context } from '../context.js'
import { ExitCode, LoraError, UsageError } from '../errors.js'
import {
  lockDatasetsBySha256,
  getDataset,
  insertUploadingDataset,
  lockDatasetContent,
  markDatasetFailed,
  markDatasetReady,
  restartDatasetUpload,
  type DatasetRow,
} from '../db/queries/datasets.js'
import type { Storage, UploadSource } from '../storage/types.js'
import type { Db } from '../db/types.js'
import type { DatasetFormat } from './formats.js'
import { byteProgress, formatBytes } from './progress.js'
import { validateFile, type ValidationReport } from './validator.js'

export const UPLOAD_BUCKETS = ['lora-datasets', 'training-files'] as const
export type UploadBucket = (typeof UPLOAD_BUCKETS)[number]
const CONTENT_TYPE = 'application/x-ndjson'
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

export interface UploadRequest {
  file: string
  name?: string
  /** From --user; LORA_USER_ID otherwise. */
  user?: string
  format?: DatasetFormat
  bucket: UploadBucket
  dryRun: boolean
  force: boolean
}

/**
 * An upload stopped before its end, its row left `uploading` for a re-run to resume:
 * by Ctrl-C or a signal (exit 130), or by a storage that stopped answering
 * (`storage_timeout`, exit 1). With --json its object (`outcome: interrupted`) says
 * where it stopped, for a script to run it again.
 */
export class UploadInterruptedError extends LoraError {
  constructor(
    message: string,
    readonly datasetId: string | null,
    readonly offset: number,
    readonly size: number,
    options: { reason?: 'storage_timeout'; cause?: unknown } = {},
  ) {
    super(message, {
      code: options.reason ?? 'interrupted',
      exitCode: options.reason ? ExitCode.failed : ExitCode.interrupted,
      ...(options.cause !== undefined ? { cause: options.cause } : {}),
    })
    this.name = 'UploadInterruptedError'
  }
}

export type UploadResult =
  | { outcome: 'invalid'; validation: ValidationReport }
  | { outcome: 'dry_run'; validation: ValidationReport; bucket: string; user: string | null; file_name: string }
  | { outcome: 'duplicate'; validation: ValidationReport; dataset: DatasetRow }
  | { outcome: 'uploaded'; validation: ValidationReport; dataset: DatasetRow; resumed_from: number; reused_row: boolean }

/** There is no login: the owner of a dataset comes from --user or LORA_USER_ID. */
export function resolveOwner(flag: string | undefined, env: Record<string, string | undefined>, required: boolean): string | null {
  if (flag) return flag.toLowerCase()
  const fromEnv = env.LORA_USER_ID?.trim()
  if (!fromEnv) {
    if (!required) return null
    throw new UsageError("Missing --user: pass --user UUID (the dataset's owner), or set LORA_USER_ID; lora has no login to take it from.", {
      code: 'missing_user',
    })
  }
  if (!UUID.test(fromEnv)) throw new UsageError(`LORA_USER_ID is not a user id (a UUID): "${fromEnv}".`, { code: 'invalid_user' })
  return fromEnv.toLowerCase()
}

/** Object keys keep to safe characters: the rest of a file name becomes "_". */
export function storageFileName(file: string): string {
  const name = basename(file).replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^\.+/, '')
  return name.length > 0 ? name.slice(-200) : 'dataset.jsonl'
}

function fileSource(path: string, size: number): UploadSource {
  return { size, contentType: CONTENT_TYPE, open: (start) => createReadStream(path, { start, highWaterMark: 1024 * 1024 }) }
}

function workerMemoryFromEnv(env: Record<string, string | undefined>): number | undefined {
  const raw = env.LORA_VALIDATE_MEMORY_MB
  if (raw === undefined || raw === '') return undefined
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 8 || n > 65536) throw new UsageError(`LORA_VALIDATE_MEMORY_MB must be a whole number of MB from 8 to 65536, got "${raw}".`)
  return n
}

function threadsFromEnv(env: Record<string, string | undefined>): number | undefined {
  const raw = env.LORA_VALIDATE_THREADS
  if (raw === undefined || raw === '') return undefined
  const n = Number(raw)
  if (!Number.isInteger(n) || n < 0 || n > 64) throw new UsageError(`LORA_VALIDATE_THREADS must be a whole number from 0 to 64, got "${raw}".`)
  return n
}

/**
 * `datasets upload`: validate (streaming, nothing written when invalid), recognise
 * content this user uploaded before, then row `uploading` -> upload (resumable) ->
 * `ready` with the statistics and validated_at, or `failed` with the reason. An
 * interrupted upload leaves its row `uploading`; running the same upload again
 * takes that row up and continues where the storage stopped.
 */
export async function uploadDataset(ctx: Context, request: UploadRequest): Promise<UploadResult> {
  const path = resolve(ctx.cwd, request.file)
  const user = resolveOwner(request.user, ctx.env, !request.dryRun)
  const label = basename(path)
  const before = await stat(path).catch(() => null)

  const validation = await validateForUpload(ctx, path, request, before?.size ?? 0)
  if (!validation.valid) return { outcome: 'invalid', validation }
  if (request.dryRun) return { outcome: 'dry_run', validation, bucket: request.bucket, user, file_name: storageFileName(path) }

  const db = await ctx.db()
  // A profile without storage fails here, before any row is written.
  const storage = await ctx.storage()
  const sha256 = validation.sha256!
  const claim = await claimUploadRow(ctx, db, request, user!, validation, path, label)
  if ('duplicate' in claim) return { outcome: 'duplicate', validation, dataset: claim.duplicate }
  const { row, reused } = claim

  const resumedFrom = await sendToStorage(ctx, db, storage, { row, reused, path, label, bytes: validation.bytes, sha256, before })

  const done = await markDatasetReady(
    db,
    row.id,
    { format: validation.format!, total_training_pairs: validation.training_pairs, total_tokens: validation.token_estimate },
    ctx.clock.now(),
  )
  if (!done) {
    // Another upload of this content, at the same time, finished it first.
    const current = await getDataset(db, row.id)
    if (current && current.status === 'ready' && !current.deleted_at) return { outcome: 'duplicate', validation, dataset: current }
    throw new LoraError(`Dataset ${row.id} changed while it was uploading (deleted, or failed by another process): it was not marked ready.`, {
      code: 'dataset_changed',
      hint: `See it with \`lora datasets show ${row.id}\`.`,
    })
  }
  return { outcome: 'uploaded', validation, dataset: done, resumed_from: resumedFrom, reused_row: reused }
}

/** Validates the file with a progress line; an interrupt says nothing was uploaded. */
async function validateForUpload(ctx: Context, path: string, request: UploadRequest, size: number): Promise<ValidationReport> {
  const validating = byteProgress(ctx.io, ctx.clock, `validating ${basename(path)}`)
  const threads = threadsFromEnv(ctx.env)
  const workerMemoryMb = workerMemoryFromEnv(ctx.env)
  try {
    return await validateFile(path, {
      displayPath: request.file,
      ...(request.format ? { format: request.format } : {}),
      ...(threads !== undefined ? { threads } : {}),
      ...(workerMemoryMb !== undefined ? { workerMemoryMb } : {}),
      signal: ctx.signal,
      onProgress: (done, total) => validating.update(done, total),
    })
  } catch (error) {
    if (ctx.signal.aborted) throw new UploadInterruptedError('Validation interrupted: nothing was uploaded.', null, 0, size)
    throw error
  } finally {
    validating.done()
  }
}

type Claim = { duplicate: DatasetRow } | { row: DatasetRow; reused: boolean }

/**
 * Under a lock on (user, content), so that two uploads at once agree: the same
 * content is recognised, or an earlier upload that did not finish is taken up
 * again (same row, same object path, so the storage resumes it), or a row is made.
 */
async function claimUploadRow(ctx: Context, db: Db, request: UploadRequest, user: string, validation: ValidationReport, path: string, label: string): Promise<Claim> {
  const sha256 = validation.sha256!
  return db.transaction(async (tx): Promise<Claim> => {
    await lockDatasetContent(tx, user, sha256)
    const existing = await lockDatasetsBySha256(tx, user, sha256)
    const ready = existing.find((d) => d.status === 'ready')
    if (ready && !request.force) return { duplicate: ready }
    if (!request.force) {
      for (const candidate of existing) {
        if (candidate.status === 'ready' || candidate.storage_bucket !== request.bucket) continue
        const row = await restartDatasetUpload(tx, candidate.id, request.name ?? null, ctx.clock.now())
        if (row) return { row, reused: true }
      }
    }
    const id = randomUUID()
    const row = await insertUploadingDataset(
      tx,
      {
        id,
        user_id: user,
        name: request.name ?? label,
        format: validation.format!,
        storage_bucket: request.bucket,
        storage_path: `${user}/${id}/${storageFileName(path)}`,
        file_size: validation.bytes,
        sha256,
      },
      ctx.clock.now(),
    )
    return { row, reused: false }
  })
}

/**
 * Sends the file to the storage under the claimed row (resuming what a run before
 * sent), and returns where it resumed from. A failure marks the row failed, unless
 * it leaves the upload to be resumed: interrupted, timed out, or another process's.
 */
async function sendToStorage(
  ctx: Context,
  db: Db,
  storage: Storage,
  file: { row: DatasetRow; reused: boolean; path: string; label: string; bytes: number; sha256: string; before: Stats | null },
): Promise<number> {
  const { row, reused, path, label, sha256, before } = file
  const uploading = byteProgress(ctx.io, ctx.clock, `uploading ${label}`)
  let resumedFrom = 0
  let sent = 0
  try {
    await storage.ensureBucket(row.storage_bucket)
    const stored = reused ? await storage.stat(row.storage_bucket, row.storage_path) : null
    if (stored && stored.size === file.bytes) {
      // The bytes all arrived last time; only the row was not marked.
      resumedFrom = sent = file.bytes
    } else {
      await storage.upload(row.storage_bucket, row.storage_path, fileSource(path, file.bytes), {
        resumeKey: sha256,
        upsert: true,
        signal: ctx.signal,
        onStart: (offset) => (resumedFrom = offset),
        onProgress: (done, total) => {
          sent = done
          uploading.update(done, total)
        },
      })
    }
    const after = await stat(path).catch(() => null)
    if (!before || !after || after.size !== before.size || after.mtimeMs !== before.mtimeMs) {
      throw new LoraError(`${label} changed while it was being uploaded.`, { code: 'file_changed' })
    }
  } catch (error) {
    uploading.done()
    if (ctx.signal.aborted || (error as Error).name === 'AbortError') {
      throw new UploadInterruptedError(
        `Upload interrupted at ${formatBytes(sent)} of ${formatBytes(file.bytes)}: dataset ${row.id} stays uploading; run the same command again to resume.`,
        row.id,
        sent,
        file.bytes,
      )
    }
    // Another process is uploading this very content: its row is not ours to fail.
    if ((error as LoraError).code === 'upload_in_progress') throw error
    // A storage that stopped answering has not refused the upload: a re-run resumes it.
    if ((error as LoraError).code === 'storage_timeout') {
      throw new UploadInterruptedError(
        `${(error as Error).message.replace(/\.$/, '')}; dataset ${row.id} stays uploading: run the same command again to resume.`,
        row.id,
        sent,
        file.bytes,
        { reason: 'storage_timeout', cause: error },
      )
    }
    const reason = (error as Error).message.replace(/\.$/, '')
    await markDatasetFailed(db, row.id, reason, ctx.clock.now())
    throw new LoraError(`Upload of ${label} failed: ${reason}; dataset ${row.id} is marked failed.`, {
      code: 'upload_failed',
      hint: 'Run the same command again: the upload resumes where it stopped.',
      cause: error,
    })
  }
  uploading.done()
  return resumedFrom
}
