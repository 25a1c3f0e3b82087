import { createHash } from 'node:crypto'
import type { StatusResponse, SubmitRequest, TrainingMetrics } from './contract.js'
import { QUEUED_SECONDS, RUN_PHASE_SECONDS, runThroughput, TRAINING_PROGRESS, trainingSeconds } from '../jobs/training-time.js'

/**
 * The simulated training run: a pure function of a job's configuration, the
 * simulator's seed and the (accelerated) time since submission. Nothing here reads a
 * clock, so a restarted simulator, or a test, gets the same answer for the same
 * elapsed time.
 */

export type JobFate = 'complete' | 'fail' | 'never'

export interface JobPlan {
  totalEpochs: number
  stepsPerEpoch: number
  totalSteps: number
  /** Phase lengths in simulated ms. */
  queuedMs: number
  preparingMs: number
  trainingMs: number
  validatingMs: number
  savingMs: number
  baseLearningRate: number
  warmupSteps: number
  initialLoss: number
  floorLoss: number
  /** Exponential decay rate of the loss per step. */
  decay: number
  /** Tokens per second across all the job's GPUs. */
  throughput: number
  fate: JobFate
  /** For 'fail' the step the run dies at, for 'never' the step it stalls at. */
  stopStep: number
  errorMessage: string
  loraRank: number
  noiseKey: string
  /** GPUs the job holds from the end of its queued phase: what it is billed for. */
  numGpus: number
  /** The dataset's tokens per epoch, as told or drawn. */
  tokens: number
}

/**
 * A dataset the simulator is not told the size of (a submission without
 * dataset_stats) is drawn between these many tokens: 10 to 20 minutes an epoch on one
 * A100-80GB.
 */
const UNKNOWN_DATASET_TOKENS = { min: 1_750_000, max: 3_450_000 }
/** How far one run strays from the model, each phase on its own: ±10 %. */
const JITTER = 0.1

/**
 * Every failure the simulator produces is one it was told to inject: its message says
 * so, so that nobody mistakes a demo's or a test's fault for a real bug.
 */
export const INJECTED = 'injected failure'

const FAILURE_CAUSES = [
  'CUDA out of memory: tried to allocate 2.00 GiB on GPU 0',
  'NCCL timeout in all_reduce after 1800 seconds',
  'training loss became NaN; the run was stopped',
  'worker node lost: preempted by the scheduler',
  'dataset download failed: HTTP 403 from storage',
] as const

/** A number in [0, 1) that depends only on its parts. */
export function hashUnit(...parts: readonly (string | number)[]): number {
  const digest = createHash('sha256').update(parts.join('\u0000')).digest()
  return digest.readUIntBE(0, 6) / 2 ** 48
}

export function hashHex(length: number, ...parts: readonly (string | number)[]): string {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, length)
}

/** A small fast seeded generator for bulk bytes and fault draws. */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function intParam(value: unknown, min: number, max: number): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max ? value : undefined
}

function numberParam(value: unknown, min: number, max: number): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) && value > min && value <= max ? value : undefined
}

/** The job's fate is drawn once, at submission, so that a later change of rates never rewrites a run. */
export function drawFate(seed: number, jobId: string, rates: { jobFailRate: number; neverFinishRate: number }): JobFate {
  const draw = hashUnit(seed, jobId, 'fate')
  if (draw < rates.jobFailRate) return 'fail'
  if (draw < rates.jobFailRate + rates.neverFinishRate) return 'never'
  return 'complete'
}

export function planJob(request: SubmitRequest, seed: number, fate: JobFate): JobPlan {
  const draw = (label: string) => hashUnit(seed, request.job_id, label)
  const jitter = (label: string) => 1 - JITTER + 2 * JITTER * draw(label)
  const hp = request.hyperparameters
  const stats = request.dataset_stats
  const totalEpochs = intParam(hp.num_epochs, 1, 1000) ?? 3
  const batchSize = intParam(hp.batch_size, 1, 65_536) ?? 4
  const stepsPerEpoch =
    intParam(hp.steps_per_epoch, 1, 10_000_000) ??
    (stats !== undefined ? Math.max(1, Math.ceil(stats.training_pairs / batchSize)) : Math.max(10, Math.round(((120 + 120 * draw('steps')) * 4) / batchSize)))
  const totalSteps = totalEpochs * stepsPerEpoch

  // The run follows the model of the estimate (training-time.ts), each phase off by up to ±10 %.
  const gpus = request.gpu_config.num_gpus
  const tokens = stats?.tokens ?? Math.round(UNKNOWN_DATASET_TOKENS.min + (UNKNOWN_DATASET_TOKENS.max - UNKNOWN_DATASET_TOKENS.min) * draw('tokens'))
  const pace = jitter('pace')
  // At least a second of training: a run with no tokens still takes a step.
  const trainingMs = Math.max(1_000, Math.round(trainingSeconds({ tokens, epochs: totalEpochs, gpuType: request.gpu_config.gpu_type, numGpus: gpus }) * 1000 * pace))

  const stopFraction = fate === 'fail' ? 0.1 + 0.7 * draw('fail-at') : 0.3 + 0.6 * draw('stall-at')
  const cause = FAILURE_CAUSES[Math.floor(draw('error') * FAILURE_CAUSES.length)] ?? FAILURE_CAUSES[0]

  return {
    totalEpochs,
    stepsPerEpoch,
    totalSteps,
    queuedMs: Math.round(QUEUED_SECONDS * 1000 * (0.5 + draw('queued'))),
    preparingMs: Math.round(RUN_PHASE_SECONDS.preparing * 1000 * jitter('preparing')),
    trainingMs,
    validatingMs: Math.round(RUN_PHASE_SECONDS.validating * 1000 * jitter('validating')),
    savingMs: Math.round(RUN_PHASE_SECONDS.saving * 1000 * jitter('saving')),
    baseLearningRate: numberParam(hp.learning_rate, 0, 1) ?? 2e-4,
    warmupSteps: intParam(hp.warmup_steps, 0, totalSteps) ?? Math.max(1, Math.round(totalSteps * 0.05)),
    initialLoss: 2 + 0.8 * draw('initial-loss'),
    floorLoss: 0.3 + 0.3 * draw('floor-loss'),
    decay: (2.5 + 1.5 * draw('decay')) / totalSteps,
    throughput: runThroughput(request.gpu_config.gpu_type, gpus) / pace,
    fate,
    stopStep: Math.max(1, Math.floor(totalSteps * stopFraction)),
    errorMessage: fate === 'fail' ? `${INJECTED}: ${cause}` : '',
    loraRank: intParam(hp.lora_rank, 1, 1024) ?? 16,
    noiseKey: `${seed}\u0000${request.job_id}`,
    numGpus: gpus,
    tokens,
  }
}

function round(value: number, digits: number): number {
  const factor = 10 ** digits
  return Math.round(value * factor) / factor
}

function significant(value: number, digits: number): number {
  return value === 0 ? 0 : Number(value.toPrecision(digits))
}

export function learningRateAt(plan: JobPlan, step: number): number {
  if (step < plan.warmupSteps) return (plan.baseLearningRate * (step + 1)) / (plan.warmupSteps + 1)
  const span = Math.max(1, plan.totalSteps - plan.warmupSteps)
  const done = Math.min(1, (step - plan.warmupSteps) / span)
  return plan.baseLearningRate * 0.5 * (1 + Math.cos(Math.PI * done))
}

function smoothLoss(plan: JobPlan, step: number): number {
  return plan.floorLoss + (plan.initialLoss - plan.floorLoss) * Math.exp(-plan.decay * step)
}

/** Centred noise in [-0.5, 0.5), the same for the same job, step and channel. */
function noise(plan: JobPlan, step: number, channel: string): number {
  return hashUnit(plan.noiseKey, channel, step) - 0.5
}

export function metricsAt(plan: JobPlan, step: number, gpuUtilization?: number): TrainingMetrics {
  const completedEpochs = Math.floor(step / plan.stepsPerEpoch)
  const metrics: TrainingMetrics = {
    training_loss: round(smoothLoss(plan, step) * (1 + 0.08 * noise(plan, step, 'loss')), 4),
    learning_rate: significant(learningRateAt(plan, step), 6),
    gradient_norm: round((0.4 + 1.6 * Math.exp((-6 * step) / plan.totalSteps)) * (1 + 0.3 * noise(plan, step, 'grad')), 4),
    throughput: Math.round(plan.throughput * (1 + 0.05 * noise(plan, step, 'throughput'))),
    gpu_utilization: gpuUtilization ?? round(92 + 6 * noise(plan, step, 'gpu'), 1),
  }
  if (completedEpochs >= 1) {
    // Evaluated at the end of the last finished epoch, a little above the training
    // loss and drifting up as the adapter starts to overfit.
    const evalStep = completedEpochs * plan.stepsPerEpoch
    const overfit = 1.04 + (0.04 * completedEpochs) / plan.totalEpochs
    metrics.validation_loss = round(smoothLoss(plan, evalStep) * overfit * (1 + 0.02 * noise(plan, evalStep, 'val')), 4)
  }
  return metrics
}

function epochOf(plan: JobPlan, step: number): number {
  return Math.min(plan.totalEpochs, Math.floor(step / plan.stepsPerEpoch) + 1)
}

function trainingProgress(plan: JobPlan, step: number): number {
  return round((TRAINING_PROGRESS * step) / plan.totalSteps, 2)
}

/**
 * The job's status after elapsedMs of simulated time, without artifacts (the server
 * adds them, since their URLs name the server). cancelledAfterMs freezes the run at
 * that moment. It says what the run has been billed: simulated time, so an
 * accelerated two-hour run bills two hours.
 */
export function statusAt(plan: JobPlan, elapsedMs: number, cancelledAfterMs?: number): StatusResponse {
  if (cancelledAfterMs !== undefined && elapsedMs >= cancelledAfterMs) {
    const frozen = statusAt(plan, cancelledAfterMs)
    return { ...frozen, status: 'cancelled', stage: 'cancelled' }
  }
  return { ...progressAt(plan, elapsedMs), billed_gpu_seconds: billedGpuSecondsAt(plan, elapsedMs) }
}

/**
 * GPU seconds billed after elapsedMs: the job's GPUs are held from the end of its
 * queued phase until it completes or fails; a hung run holds them until cancelled.
 */
export function billedGpuSecondsAt(plan: JobPlan, elapsedMs: number): number {
  const trainStart = plan.queuedMs + plan.preparingMs
  const endMs =
    plan.fate === 'complete'
      ? plannedDurationMs(plan)
      : plan.fate === 'fail'
        ? trainStart + (plan.stopStep * plan.trainingMs) / plan.totalSteps
        : Number.POSITIVE_INFINITY
  const heldMs = Math.max(0, Math.min(elapsedMs, endMs) - plan.queuedMs)
  return round((heldMs / 1000) * plan.numGpus, 1)
}

function progressAt(plan: JobPlan, elapsedMs: number): StatusResponse {
  const totals = { total_epochs: plan.totalEpochs, total_steps: plan.totalSteps }
  const trainStart = plan.queuedMs + plan.preparingMs
  if (elapsedMs < plan.queuedMs) {
    return { status: 'queued', stage: 'queued', progress: 0, current_epoch: 0, current_step: 0, ...totals }
  }
  if (elapsedMs < trainStart) {
    return { status: 'initializing', stage: 'preparing', progress: 0, current_epoch: 0, current_step: 0, ...totals }
  }
  const stepNow = Math.min(plan.totalSteps, Math.floor((plan.totalSteps * (elapsedMs - trainStart)) / plan.trainingMs))
  if (plan.fate !== 'complete' && stepNow >= plan.stopStep) {
    const step = plan.stopStep
    const base = { progress: trainingProgress(plan, step), current_epoch: epochOf(plan, step), current_step: step, ...totals }
    if (plan.fate === 'fail') {
      return { status: 'failed', stage: 'training', ...base, metrics: metricsAt(plan, step, 0), error_message: plan.errorMessage }
    }
    // A hung run: it still says "running", but the GPUs sit idle and nothing moves.
    return { status: 'running', stage: 'training', ...base, metrics: { ...metricsAt(plan, step, 0), throughput: 0 } }
  }
  if (stepNow < plan.totalSteps) {
    return {
      status: 'running',
      stage: 'training',
      progress: trainingProgress(plan, stepNow),
      current_epoch: epochOf(plan, stepNow),
      current_step: stepNow,
      ...totals,
      metrics: metricsAt(plan, stepNow),
    }
  }
  const finished = { current_epoch: plan.totalEpochs, current_step: plan.totalSteps, ...totals }
  const trainEnd = trainStart + plan.trainingMs
  const validateEnd = trainEnd + plan.validatingMs
  // Validation and saving take the progress from 95 to 100 at one pace, as the estimate's model has it.
  const finishing = (elapsedMs: number) => Math.min(99.9, round(TRAINING_PROGRESS + ((100 - TRAINING_PROGRESS) * (elapsedMs - trainEnd)) / (plan.validatingMs + plan.savingMs), 2))
  if (elapsedMs < validateEnd) {
    return { status: 'running', stage: 'validating', progress: finishing(elapsedMs), ...finished, metrics: metricsAt(plan, plan.totalSteps, 65) }
  }
  if (elapsedMs < validateEnd + plan.savingMs) {
    return { status: 'running', stage: 'saving', progress: finishing(elapsedMs), ...finished, metrics: metricsAt(plan, plan.totalSteps, 15) }
  }
  return { status: 'completed', stage: 'completed', progress: 100, ...finished, metrics: metricsAt(plan, plan.totalSteps) }
}

/** Simulated ms from submission to completion of a job that completes. */
export function plannedDurationMs(plan: JobPlan): number {
  return plan.queuedMs + plan.preparingMs + plan.trainingMs + plan.validatingMs + plan.savingMs
}
