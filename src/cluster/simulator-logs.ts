import type { SubmitRequest } from './contract.js'
import { VALIDATION_IMAGE_COUNT } from './simulator-artifacts.js'
import { hashUnit, metricsAt, type JobPlan } from './simulator-model.js'

/**
 * The training log of a simulated run, as a trainer on a GPU node writes it: setup,
 * each epoch's loss, warnings, and the cause when it fails. Like the run itself it is
 * a pure function of the plan: each line has the simulated ms after submission at
 * which it is written, and a status read at that moment agrees with it.
 */

export interface PlannedLine {
  /** Simulated ms after submission. */
  atMs: number
  text: string
}

/** Step lines per epoch, at most: a long epoch logs every few steps, as trainers do. */
const STEP_LINES_PER_EPOCH = 10
const MISTRAL_PARAMETERS = 7_241_732_096
/** LoRA parameters per unit of rank on Mistral-7B's q, k, v and o projections (32 layers). */
const LORA_PARAMETERS_PER_RANK = 851_968

const grouped = (n: number) => Math.round(n).toLocaleString('en-US')

function hp<T>(request: SubmitRequest, key: string, fallback: T): T | number | string {
  const value = request.hyperparameters[key]
  return typeof value === 'number' || typeof value === 'string' ? value : fallback
}

/** Every line the run will write if nothing stops it, oldest first; a failed or stalled run's log ends where it does. */
export function plannedLog(plan: JobPlan, request: SubmitRequest, cancelledAfterMs?: number): PlannedLine[] {
  const draw = (label: string) => hashUnit(plan.noiseKey, 'log', label)
  const lines: PlannedLine[] = []
  const at = (atMs: number, text: string) => lines.push({ atMs: Math.round(atMs), text })
  const gpu = `${plan.numGpus}x ${request.gpu_config.gpu_type}`
  const prepareStart = plan.queuedMs
  const trainStart = plan.queuedMs + plan.preparingMs
  const stepMs = plan.trainingMs / plan.totalSteps
  const rank = plan.loraRank

  at(0, `job accepted: ${gpu} requested, waiting for GPUs`)
  at(prepareStart, `GPUs allocated: ${gpu} on node gpu-${String(Math.floor(draw('node') * 90) + 10)}`)
  at(prepareStart + plan.preparingMs * 0.05, `downloading base model ${String(hp(request, 'base_model', 'mistralai/Mistral-7B-v0.1'))}`)
  at(prepareStart + plan.preparingMs * 0.6, 'base model loaded in bfloat16 (13.5 GiB)')
  const stats = request.dataset_stats
  at(
    prepareStart + plan.preparingMs * 0.7,
    stats ? `dataset downloaded: ${grouped(stats.training_pairs)} training pairs, ${grouped(stats.tokens)} tokens` : `dataset downloaded: ${grouped(plan.tokens)} tokens`,
  )
  // Only datasets of long records (or of unknown shape) have records past the context.
  if (draw('truncation') < 0.4 && (stats === undefined || stats.tokens / Math.max(1, stats.training_pairs) > 400)) {
    const records = 1 + Math.floor(draw('truncated') * 12)
    at(prepareStart + plan.preparingMs * 0.75, `warning: ${records} record${records === 1 ? ' is' : 's are'} longer than the 2,048-token context and will be truncated`)
  }
  at(
    prepareStart + plan.preparingMs * 0.9,
    `LoRA adapter: rank ${rank}, alpha ${String(hp(request, 'lora_alpha', rank * 2))}, dropout ${String(hp(request, 'lora_dropout', 0.05))}, target modules q_proj, k_proj, v_proj, o_proj`,
  )
  const trainable = rank * LORA_PARAMETERS_PER_RANK
  at(
    prepareStart + plan.preparingMs * 0.95,
    `trainable params: ${grouped(trainable)} || all params: ${grouped(MISTRAL_PARAMETERS + trainable)} || trainable%: ${((100 * trainable) / (MISTRAL_PARAMETERS + trainable)).toFixed(4)}`,
  )
  at(
    trainStart,
    `training: ${plan.totalEpochs} epoch${plan.totalEpochs === 1 ? '' : 's'} x ${grouped(plan.stepsPerEpoch)} steps, batch size ${String(hp(request, 'batch_size', 4))}, learning rate ${plan.baseLearningRate}, ${plan.warmupSteps} warmup steps`,
  )

  // The step the run stops at when it fails or stalls; the whole run otherwise.
  const lastStep = plan.fate === 'complete' ? plan.totalSteps : plan.stopStep
  const every = Math.max(1, Math.ceil(plan.stepsPerEpoch / STEP_LINES_PER_EPOCH))
  const spikeStep = plan.totalSteps > 20 && draw('spike') < 0.5 ? 1 + Math.floor(draw('spike-at') * (plan.totalSteps - 1)) : -1
  const logged: number[] = []
  for (let start = 0; start < lastStep; start += plan.stepsPerEpoch) {
    for (let inEpoch = every; inEpoch < plan.stepsPerEpoch; inEpoch += every) logged.push(start + inEpoch)
    logged.push(start + plan.stepsPerEpoch)
  }
  let previous = 0
  for (const step of logged) {
    if (step > lastStep) break
    if (spikeStep > previous && spikeStep <= step) {
      at(trainStart + spikeStep * stepMs, `warning: gradient norm ${(4 + 4 * draw('spike-size')).toFixed(2)} at step ${grouped(spikeStep)} is above max_grad_norm 1.0; clipped`)
    }
    const epoch = Math.ceil(step / plan.stepsPerEpoch)
    const m = metricsAt(plan, step)
    at(
      trainStart + step * stepMs,
      `epoch ${epoch}/${plan.totalEpochs} step ${grouped(step)}/${grouped(plan.totalSteps)}: loss ${m.training_loss.toFixed(4)}, lr ${m.learning_rate.toExponential(2)}, grad_norm ${(m.gradient_norm ?? 0).toFixed(3)}, ${grouped(m.throughput)} tokens/s`,
    )
    if (step % plan.stepsPerEpoch === 0 && m.validation_loss !== undefined) {
      at(trainStart + step * stepMs, `epoch ${epoch}/${plan.totalEpochs} done: training loss ${m.training_loss.toFixed(4)}, validation loss ${m.validation_loss.toFixed(4)}`)
    }
    previous = step
  }
  const stopMs = trainStart + lastStep * stepMs
  if (plan.fate === 'fail') {
    at(stopMs, `error at step ${grouped(lastStep)}/${grouped(plan.totalSteps)}: ${plan.errorMessage}`)
    at(stopMs, 'the run failed; GPUs released')
  } else if (plan.fate === 'never') {
    at(stopMs, `warning: step ${grouped(lastStep + 1)} has not finished; the NCCL watchdog is waiting on rank 0`)
  } else {
    const validateStart = trainStart + plan.trainingMs
    const final = metricsAt(plan, plan.totalSteps)
    at(validateStart, `validating: ${VALIDATION_IMAGE_COUNT} sample generations from the held-out prompts`)
    at(validateStart + plan.validatingMs * 0.9, `validation loss ${(final.validation_loss ?? final.training_loss).toFixed(4)}`)
    at(validateStart + plan.validatingMs, `saving adapter (rank ${rank}) to adapter.safetensors`)
    at(validateStart + plan.validatingMs + plan.savingMs, `run complete: adapter and ${VALIDATION_IMAGE_COUNT} validation images uploaded; GPUs released`)
  }
  if (cancelledAfterMs === undefined) return lines
  const kept = lines.filter((line) => line.atMs <= cancelledAfterMs)
  const last = kept.at(-1)?.text ?? ''
  // A run that had already ended when the cancel came has nothing more to say.
  if (/GPUs released$/.test(last)) return kept
  kept.push({ atMs: Math.round(cancelledAfterMs), text: 'cancel requested: the run was stopped; GPUs released' })
  return kept
}
