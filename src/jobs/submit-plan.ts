import type { ResolvedConfig } from '../config/schema.js'
import type { Queryable } from '../db/types.js'
import { listReadyDatasets, readDatasetChoice, type DatasetChoice } from '../db/queries/submit.js'
import { LoraError, UsageError } from '../errors.js'
import { resolveDatasetId } from '../ids.js'
import type { Prompter } from '../io/prompter.js'
import { grouped } from './format.js'
import { money } from '../metrics/format.js'
import { simulatedHoursNote } from '../cluster/simulated.js'
import { estimateJob, PRESETS, type Estimate, type GpuConfig, type Hyperparameters, type Preset } from './presets.js'

export type PresetId = Preset['id']

/** What the flags said; anything missing is asked at a terminal. */
export interface SubmitFlags {
  dataset?: string
  preset?: PresetId
  epochs?: number
  learningRate?: number
  rank?: number
  gpuType?: string
  gpus?: number
  user?: string
}

export interface SubmitPlan {
  userId: string
  dataset: DatasetChoice
  preset: Preset
  hyperparameters: Hyperparameters
  gpu: GpuConfig
  estimate: Estimate
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i

/** There is no login: the job's user comes from --user, or LORA_USER_ID. */
export function resolveUser(flag: string | undefined, env: Record<string, string | undefined>): string {
  if (flag) return flag
  const fromEnv = env.LORA_USER_ID?.trim()
  if (!fromEnv) {
    throw new UsageError('Missing --user: pass --user UUID (the user the job is for), or set LORA_USER_ID.', { code: 'missing_user' })
  }
  if (!UUID.test(fromEnv)) throw new UsageError(`LORA_USER_ID is not a user id (a UUID): "${fromEnv}".`, { code: 'invalid_user' })
  return fromEnv
}

function notReady(dataset: DatasetChoice): LoraError {
  return new LoraError(`Dataset ${dataset.name} (${dataset.id}) is not ready (its status is ${dataset.status}): it cannot be trained on.`, {
    code: 'dataset_not_ready',
    hint: 'Upload it again, or wait for its upload to finish.',
  })
}

/** --dataset as an id, an id prefix or the name of one of the user's datasets; refused unless ready. */
export async function resolveDataset(q: Queryable, userId: string, given: string): Promise<DatasetChoice> {
  const id = await resolveDatasetId(q, given, { userId })
  const dataset = await readDatasetChoice(q, id)
  if (!dataset) throw new LoraError(`Dataset ${given} does not exist.`, { code: 'dataset_not_found', hint: 'List them with `lora datasets list`.' })
  if (dataset.user_id !== userId) {
    throw new LoraError(`Dataset ${dataset.name} (${dataset.id}) belongs to another user, not to ${userId}.`, {
      code: 'dataset_not_owned',
      hint: "A job trains on its own user's datasets: check --user and --dataset.",
    })
  }
  if (dataset.status !== 'ready') throw notReady(dataset)
  return dataset
}

/**
 * Turns the flags into a job: at a terminal it asks for what is missing (the dataset
 * among the user's ready ones, the preset, the GPU type); without one, a missing
 * dataset is a usage error, the preset defaults to balanced and the GPU to the
 * preset's. The bounds of the numbers were checked by the command's schema.
 */
export async function planSubmission(q: Queryable, config: ResolvedConfig, flags: SubmitFlags, env: Record<string, string | undefined>, prompter: Prompter | null): Promise<SubmitPlan> {
  const userId = resolveUser(flags.user, env)
  if (flags.gpuType !== undefined) checkGpuType(flags.gpuType, config)

  let dataset: DatasetChoice
  if (flags.dataset !== undefined) dataset = await resolveDataset(q, userId, flags.dataset)
  else if (!prompter) {
    throw new UsageError('Missing --dataset: pass --dataset ID|NAME (a ready dataset of the user).', { code: 'missing_dataset' })
  } else {
    const ready = await listReadyDatasets(q, userId)
    if (ready.length === 0) {
      throw new LoraError(`User ${userId} has no ready dataset to train on.`, { code: 'no_ready_dataset', hint: 'Upload one with `lora datasets upload FILE`.' })
    }
    dataset = await prompter.select(
      'Dataset',
      ready.map((d) => ({
        value: d,
        name: `${d.name}  (${grouped(d.total_training_pairs ?? 0)} pairs, ${grouped(d.total_tokens ?? 0)} tokens)`,
        description: `${d.id}, uploaded ${d.created_at.toISOString().slice(0, 10)}`,
      })),
    )
  }

  let presetId = flags.preset
  const askPreset = presetId === undefined && prompter !== null
  if (presetId === undefined) {
    presetId = prompter
      ? await prompter.select(
          'Preset',
          Object.values(PRESETS).map((p) => ({ value: p.id, name: p.id, description: p.description })),
          { default: 'balanced' as PresetId },
        )
      : 'balanced'
  }
  const preset = PRESETS[presetId]

  let gpuType = flags.gpuType
  if (gpuType === undefined) {
    // A preset named on the command line brings its GPU; one picked at the prompt is followed by the GPU question.
    gpuType =
      askPreset && prompter
        ? await prompter.select(
            'GPU type',
            Object.entries(config.gpuPrices).map(([type, price]) => ({ value: type, name: `${type}  (${money(price)} per GPU hour)` })),
            { default: preset.gpu.gpu_type in config.gpuPrices ? preset.gpu.gpu_type : Object.keys(config.gpuPrices)[0]! },
          )
        : preset.gpu.gpu_type
  }
  checkGpuType(gpuType, config)

  const ratio = preset.hyperparameters.lora_alpha / preset.hyperparameters.lora_rank
  const rank = flags.rank ?? preset.hyperparameters.lora_rank
  const hyperparameters: Hyperparameters = {
    ...preset.hyperparameters,
    num_epochs: flags.epochs ?? preset.hyperparameters.num_epochs,
    learning_rate: flags.learningRate ?? preset.hyperparameters.learning_rate,
    lora_rank: rank,
    // The preset's alpha-to-rank ratio is kept when the rank changes.
    lora_alpha: flags.rank === undefined ? preset.hyperparameters.lora_alpha : Math.round(rank * ratio),
  }
  const gpu: GpuConfig = { gpu_type: gpuType, num_gpus: flags.gpus ?? preset.gpu.num_gpus, cost_per_gpu_hour: config.gpuPrices[gpuType]! }
  const estimate = estimateJob(dataset.total_tokens ?? 0, hyperparameters, gpu)
  return { userId, dataset, preset, hyperparameters, gpu, estimate }
}

export function checkGpuType(type: string, config: ResolvedConfig): void {
  if (config.gpuPrices[type] === undefined) {
    throw new UsageError(`Invalid --gpu-type: "${type}" is not a GPU type of profile ${config.profile} (one of ${Object.keys(config.gpuPrices).join(', ')}).`, {
      code: 'unknown_gpu',
      hint: 'Or add its price under gpuPrices in .lorarc.',
    })
  }
}

/** The configuration and the estimate, as shown before the confirmation. */
export function describePlan(plan: SubmitPlan, simulatedSpeed: number | null = null): string[] {
  const h = plan.hyperparameters
  const e = plan.estimate
  const rows: [string, string][] = [
    ['user', plan.userId],
    ['dataset', `${plan.dataset.name} (${plan.dataset.id}): ${grouped(plan.dataset.total_training_pairs ?? 0)} pairs, ${grouped(plan.dataset.total_tokens ?? 0)} tokens`],
    ['preset', plan.preset.id],
    ['base model', h.base_model],
    ['epochs', String(h.num_epochs)],
    ['learning rate', String(h.learning_rate)],
    ['LoRA rank', `${h.lora_rank} (alpha ${h.lora_alpha}, dropout ${h.lora_dropout})`],
    ['batch size', String(h.batch_size)],
    ['GPUs', `${plan.gpu.num_gpus}x ${plan.gpu.gpu_type} at ${money(plan.gpu.cost_per_gpu_hour)} per GPU hour`],
    ['estimate', `${money(plan.gpu.cost_per_gpu_hour)}/h x ${plan.gpu.num_gpus} GPU${plan.gpu.num_gpus === 1 ? '' : 's'} x ${e.hours} h = ${money(e.totalCost)}${simulatedHoursNote(e.hours, simulatedSpeed)}`],
  ]
  const width = Math.max(...rows.map(([k]) => k.length))
  return ['Training job:', ...rows.map(([k, v]) => `  ${k.padEnd(width)}  ${v}`)]
}

/** The job a dry run would submit, with the column names of training_jobs. */
export function describePlanJson(plan: SubmitPlan) {
  return {
    user_id: plan.userId,
    dataset_id: plan.dataset.id,
    dataset_name: plan.dataset.name,
    preset_id: plan.preset.id,
    hyperparameters: plan.hyperparameters,
    gpu_config: plan.gpu,
  }
}
