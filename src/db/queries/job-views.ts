import type { Queryable } from '../types.js'
import type { JobStatus } from './jobs.js'
import type { MetricValues } from './poll.js'
import type { CostSource } from '../../jobs/cost.js'

/**
 * The reads of `jobs list | show | watch`. The job columns
 * are named once here, so that every view and every --json shape agrees.
 */

export interface JobRow {
  id: string
  user_id: string
  dataset_id: string
  dataset_name: string | null
  preset_id: string | null
  status: string
  current_stage: string | null
  progress: number
  current_epoch: number
  total_epochs: number | null
  current_step: number
  total_steps: number | null
  current_metrics: Record<string, number> | null
  hyperparameters: Record<string, unknown>
  gpu_config: Record<string, unknown>
  external_job_id: string | null
  cluster_name: string | null
  estimated_total_cost: number | null
  estimated_duration_hours: number | null
  current_cost: number
  final_cost: number | null
  /** Where the cost comes from: the cluster's billed GPU time, or the wall clock. */
  cost_source: CostSource | null
  /** What the cluster last said it billed, all GPUs together. */
  billed_gpu_seconds: number | null
  error_message: string | null
  error_type: string | null
  counts_toward_limit: boolean
  wait_reason: string | null
  attempts: number
  claimed_by: string | null
  lease_expires_at: Date | null
  artifact_id: string | null
  created_at: Date
  started_at: Date | null
  completed_at: Date | null
  updated_at: Date
}

const JOB_COLUMNS = `j.id, j.user_id, j.dataset_id, d.name AS dataset_name, j.preset_id, j.status, j.current_stage,
  j.progress, j.current_epoch, j.total_epochs, j.current_step, j.total_steps, j.current_metrics, j.hyperparameters,
  j.gpu_config, j.external_job_id, j.cluster_name, j.estimated_total_cost, j.estimated_duration_hours, j.current_cost,
  j.final_cost, j.cost_source, j.billed_gpu_seconds, j.error_message, j.error_type, j.counts_toward_limit, j.wait_reason, j.attempts, j.claimed_by,
  j.lease_expires_at, j.artifact_id, j.created_at, j.started_at, j.completed_at, j.updated_at`

export interface JobFilter {
  statuses?: string[]
  userId?: string
  since?: Date
  limit: number
}

/** Newest first, filtered by status, user and age. */
export async function listJobs(q: Queryable, filter: JobFilter): Promise<JobRow[]> {
  return q.query<JobRow>(
    `SELECT ${JOB_COLUMNS}
       FROM training_jobs j LEFT JOIN datasets d ON d.id = j.dataset_id
      WHERE ($1::text[] IS NULL OR j.status = ANY($1::text[]))
        AND ($2::uuid IS NULL OR j.user_id = $2::uuid)
        AND ($3::timestamptz IS NULL OR j.created_at >= $3::timestamptz)
      ORDER BY j.created_at DESC, j.id
      LIMIT $4`,
    [filter.statuses?.length ? filter.statuses : null, filter.userId ?? null, filter.since ?? null, filter.limit],
  )
}

export async function readJob(q: Queryable, id: string): Promise<JobRow | null> {
  const [row] = await q.query<JobRow>(
    `SELECT ${JOB_COLUMNS} FROM training_jobs j LEFT JOIN datasets d ON d.id = j.dataset_id WHERE j.id = $1`,
    [id],
  )
  return row ?? null
}

export interface DatasetSummary {
  id: string
  name: string
  format: string
  total_training_pairs: number | null
  total_tokens: number | null
}

export async function readJobDataset(q: Queryable, datasetId: string): Promise<DatasetSummary | null> {
  const [row] = await q.query<DatasetSummary>(
    'SELECT id, name, format, total_training_pairs, total_tokens FROM datasets WHERE id = $1',
    [datasetId],
  )
  return row ?? null
}

export interface MetricsPoint extends MetricValues {
  timestamp: Date
  epoch: number | null
  step: number
}

/** The job's last `limit` metrics points, oldest first (the chart reads left to right). */
export async function readLastMetricsPoints(q: Queryable, jobId: string, limit: number): Promise<MetricsPoint[]> {
  return q.query<MetricsPoint>(
    `SELECT "timestamp", epoch, step, training_loss, validation_loss, learning_rate, gradient_norm, throughput, gpu_utilization
       FROM (SELECT * FROM metrics_points WHERE job_id = $1 ORDER BY step DESC LIMIT $2) last
      ORDER BY step`,
    [jobId, limit],
  )
}

export interface CostRecord {
  id: string
  cost_type: string
  amount: number
  details: Record<string, unknown>
  billing_period: string
  recorded_at: Date
}

export async function readCostRecords(q: Queryable, jobId: string): Promise<CostRecord[]> {
  return q.query<CostRecord>(
    'SELECT id, cost_type, amount, details, billing_period, recorded_at FROM cost_records WHERE job_id = $1 ORDER BY recorded_at DESC, id',
    [jobId],
  )
}

export interface ArtifactSummary {
  id: string
  status: string
  storage_bucket: string
  storage_path: string | null
  artifacts: Record<string, unknown>
  validation_image_urls: string[]
  upload_error: string | null
  created_at: Date
}

export async function readJobArtifact(q: Queryable, jobId: string): Promise<ArtifactSummary | null> {
  const [row] = await q.query<ArtifactSummary>(
    `SELECT id, status, storage_bucket, storage_path, artifacts, validation_image_urls, upload_error, created_at
       FROM model_artifacts WHERE job_id = $1 AND deleted_at IS NULL`,
    [jobId],
  )
  return row ?? null
}

export async function readJobStatus(q: Queryable, id: string): Promise<JobStatus | null> {
  const [row] = await q.query<{ status: JobStatus }>('SELECT status FROM training_jobs WHERE id = $1', [id])
  return row?.status ?? null
}
