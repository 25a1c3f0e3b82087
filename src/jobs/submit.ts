import type { Db } from '../db/types.js'
import { limitsTimezone, type ResolvedConfig } from '../config/schema.js'
import { LoraError } from '../errors.js'
import { countUserJob, insertQueuedJob, lockDatasetForJob, lockUserLimit } from '../db/queries/submit.js'
import { readCommittedSpend } from '../db/queries/budget.js'
import { monthOf, monthStartOf } from '../month.js'
import { money } from '../metrics/format.js'
import { type JobRow, readJob } from '../db/queries/job-views.js'
import { estimateJob, type Estimate, type GpuConfig, type Hyperparameters } from './presets.js'

export interface SubmitInput {
  userId: string
  datasetId: string
  presetId: string
  hyperparameters: Hyperparameters
  gpu: { gpu_type: string; num_gpus: number }
}

export interface SubmittedJob {
  id: string
  user_id: string
  dataset_id: string
  preset_id: string
  status: 'queued'
  hyperparameters: Hyperparameters
  gpu_config: GpuConfig
  estimated_total_cost: number
  estimated_duration_hours: number
  created_at: Date
}

export function gpuConfigFor(gpu: { gpu_type: string; num_gpus: number }, config: ResolvedConfig): GpuConfig {
  const price = config.gpuPrices[gpu.gpu_type]
  if (price === undefined) {
    throw new LoraError(`Unknown GPU type "${gpu.gpu_type}" (known: ${Object.keys(config.gpuPrices).join(', ')}).`, {
      code: 'unknown_gpu',
      exitCode: 2,
      hint: 'Pick one of those, or add its price under gpuPrices in .lorarc.',
    })
  }
  return { gpu_type: gpu.gpu_type, num_gpus: gpu.num_gpus, cost_per_gpu_hour: price }
}

/**
 * Queues a training job. The checks (the dataset ready, the user's monthly limit, the
 * system budget) and the writes (the job, the limit counter) are one transaction, the
 * limit row locked: two submits racing for a user's last slot cannot both pass.
 */
export async function submitJob(
  db: Db,
  config: ResolvedConfig,
  input: SubmitInput,
  now: Date,
): Promise<{ job: SubmittedJob; row: JobRow; estimate: Estimate; committed: number }> {
  const gpuConfig = gpuConfigFor(input.gpu, config)
  return db.transaction(async (tx) => {
    const dataset = await lockDatasetForJob(tx, input.datasetId)
    if (!dataset || dataset.deleted_at) {
      throw new LoraError(`Dataset ${input.datasetId} does not exist.`, { code: 'dataset_not_found', hint: 'List them with `lora datasets list`.' })
    }
    if (dataset.user_id !== input.userId) {
      throw new LoraError(`Dataset ${dataset.name} (${dataset.id}) belongs to another user, not to ${input.userId}.`, {
        code: 'dataset_not_owned',
        hint: 'A job trains on its own user\'s datasets: check --user and --dataset.',
      })
    }
    if (dataset.status !== 'ready') {
      throw new LoraError(`Dataset ${dataset.name} (${dataset.id}) is not ready (its status is ${dataset.status}): it cannot be trained on.`, {
        code: 'dataset_not_ready',
        hint: 'Upload it again, or wait for its upload to finish.',
      })
    }
    // The user's month runs in limits.timezone; the budget's in UTC.
    const limit = await lockUserLimit(tx, input.userId, monthOf(now, limitsTimezone(config)).day)
    if (limit.loras_created_this_month >= limit.monthly_limit) {
      throw new LoraError(`User ${input.userId} has used all ${limit.monthly_limit} training jobs of this month.`, {
        code: 'user_limit_reached',
        hint: 'The limit resets on the 1st (`lora reset-limits`); failures that were not the user\'s fault do not count.',
      })
    }
    // The figure the daemons claim by; the reservation itself happens at the claim.
    const { committed } = await readCommittedSpend(tx, monthStartOf(now))
    if (committed >= config.budget.monthlyUsd) {
      throw new LoraError(`The monthly training budget of ${money(config.budget.monthlyUsd)} is used up (${money(committed)} committed).`, {
        code: 'budget_exceeded',
        hint: 'Raise budget.monthlyUsd in the profile, or wait for next month.',
      })
    }
    const estimate = estimateJob(dataset.total_tokens ?? 0, input.hyperparameters, gpuConfig)
    const row = await insertQueuedJob(
      tx,
      {
        user_id: input.userId,
        dataset_id: dataset.id,
        preset_id: input.presetId,
        hyperparameters: { ...input.hyperparameters },
        gpu_config: { ...gpuConfig },
        total_epochs: input.hyperparameters.num_epochs,
        estimated_total_cost: estimate.totalCost,
        estimated_duration_hours: estimate.hours,
      },
      now,
    )
    await countUserJob(tx, input.userId, now)
    // Read back in the transaction: the job as queued, before any daemon claims it.
    const full = (await readJob(tx, row.id))!
    return {
      row: full,
      job: {
        id: row.id,
        user_id: input.userId,
        dataset_id: dataset.id,
        preset_id: input.presetId,
        status: 'queued',
        hyperparameters: input.hyperparameters,
        gpu_config: gpuConfig,
        estimated_total_cost: estimate.totalCost,
        estimated_duration_hours: estimate.hours,
        created_at: row.created_at,
      },
      estimate,
      committed,
    }
  })
}
