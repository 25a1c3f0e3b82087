import { runSeconds } from './training-time.js'

/**
 * Training presets (DESIGN section 4): each gives the hyperparameters and the GPU
 * configuration of a job. A profile may override them.
 */
export interface Hyperparameters {
  num_epochs: number
  learning_rate: number
  lora_rank: number
  lora_alpha: number
  lora_dropout: number
  batch_size: number
  base_model: string
}

export interface GpuConfig {
  gpu_type: string
  num_gpus: number
  cost_per_gpu_hour: number
}

export interface Preset {
  id: 'fast' | 'balanced' | 'quality'
  description: string
  hyperparameters: Hyperparameters
  gpu: { gpu_type: string; num_gpus: number }
}

const BASE_MODEL = 'mistralai/Mistral-7B-v0.1'

export const PRESETS: Record<Preset['id'], Preset> = {
  fast: {
    id: 'fast',
    description: 'quick iteration: 1 epoch, rank 8, one A10G',
    hyperparameters: { num_epochs: 1, learning_rate: 3e-4, lora_rank: 8, lora_alpha: 16, lora_dropout: 0.05, batch_size: 8, base_model: BASE_MODEL },
    gpu: { gpu_type: 'A10G', num_gpus: 1 },
  },
  balanced: {
    id: 'balanced',
    description: 'the default: 3 epochs, rank 16, one A100-40GB',
    hyperparameters: { num_epochs: 3, learning_rate: 2e-4, lora_rank: 16, lora_alpha: 32, lora_dropout: 0.05, batch_size: 8, base_model: BASE_MODEL },
    gpu: { gpu_type: 'A100-40GB', num_gpus: 1 },
  },
  quality: {
    id: 'quality',
    description: 'best results: 5 epochs, rank 32, two A100-80GB',
    hyperparameters: { num_epochs: 5, learning_rate: 1e-4, lora_rank: 32, lora_alpha: 64, lora_dropout: 0.1, batch_size: 16, base_model: BASE_MODEL },
    gpu: { gpu_type: 'A100-80GB', num_gpus: 2 },
  },
}

export interface Estimate {
  hours: number
  totalCost: number
  hourlyRate: number
}

/**
 * A job's estimate: the time its run holds its GPUs (training-time.ts: the dataset's
 * tokens times the epochs at the GPU type's throughput, plus the fixed phases around
 * training), priced by the profile.
 */
export function estimateJob(tokens: number, hyper: Pick<Hyperparameters, 'num_epochs'>, gpu: GpuConfig): Estimate {
  const hours = runSeconds({ tokens, epochs: hyper.num_epochs, gpuType: gpu.gpu_type, numGpus: gpu.num_gpus }) / 3600
  const hourlyRate = gpu.cost_per_gpu_hour * gpu.num_gpus
  return { hours: round(hours, 3), totalCost: round(hours * hourlyRate, 2), hourlyRate: round(hourlyRate, 2) }
}

/** current_cost: the GPU hourly rate x GPUs x elapsed hours (seed 004). */
export function costSoFar(gpu: Partial<GpuConfig>, startedAt: Date | null, now: Date, prices: Record<string, number>): number {
  if (!startedAt) return 0
  const rate = gpu.cost_per_gpu_hour ?? (gpu.gpu_type ? prices[gpu.gpu_type] : undefined) ?? 0
  const hours = Math.max(0, now.getTime() - startedAt.getTime()) / 3_600_000
  return round(rate * (gpu.num_gpus ?? 1) * hours, 2)
}

function round(value: number, digits: number): number {
  const f = 10 ** digits
  return Math.round(value * f) / f
}
