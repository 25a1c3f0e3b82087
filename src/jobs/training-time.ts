/**
 * How long a training run takes: the one model behind a job's estimate (DESIGN
 * section 4) and behind the simulated cluster's runs, so that on the simulator the
 * estimate, the live ETA and the billed GPU time tell the same story.
 *
 * A run waits for its GPUs (not billed), then holds them while it prepares (pulls the
 * base model and the dataset), trains (the dataset's tokens times the epochs, at the
 * GPU type's throughput), validates and saves the adapter.
 */

/** Tokens per second one GPU of each type trains. */
export const THROUGHPUT_TOKENS_PER_SECOND: Record<string, number> = {
  'A100-80GB': 3200,
  'A100-40GB': 2600,
  H100: 5200,
  A10G: 900,
  L4: 700,
}
/** A GPU type missing from the table trains at this pace. */
export const DEFAULT_THROUGHPUT = 1000
/** The share of the nominal throughput a run sustains (data loading, logging, evaluation steps). */
const EFFICIENCY = 0.9

/** The phases around training, in seconds: GPUs are held, and billed, through them (0.1 h together). */
export const RUN_PHASE_SECONDS = { preparing: 240, validating: 90, saving: 30 } as const
/** The fixed part of every run, in seconds. */
export const RUN_OVERHEAD_SECONDS = RUN_PHASE_SECONDS.preparing + RUN_PHASE_SECONDS.validating + RUN_PHASE_SECONDS.saving
/** Waiting for GPUs before the run starts: part of the wall time, not of the bill. */
export const QUEUED_SECONDS = 10

export interface RunShape {
  /** The dataset's tokens (one epoch). */
  tokens: number
  epochs: number
  gpuType: string
  numGpus: number
}

const BY_LOWER_NAME = new Map(Object.entries(THROUGHPUT_TOKENS_PER_SECOND).map(([type, rate]) => [type.toLowerCase(), rate]))

/** Tokens per second a run sustains on its GPUs together. */
export function runThroughput(gpuType: string, numGpus: number): number {
  return (BY_LOWER_NAME.get(gpuType.toLowerCase()) ?? DEFAULT_THROUGHPUT) * numGpus * EFFICIENCY
}

/** Seconds of training proper: every epoch reads the whole dataset. */
export function trainingSeconds(run: RunShape): number {
  return (Math.max(0, run.tokens) * run.epochs) / runThroughput(run.gpuType, run.numGpus)
}

/** Seconds the run holds its GPUs, from the end of its queue to its end: what it is billed for, per GPU. */
export function runSeconds(run: RunShape): number {
  return RUN_OVERHEAD_SECONDS + trainingSeconds(run)
}

/** The progress a cluster reports when training ends; validation and saving take it to 100. */
export const TRAINING_PROGRESS = 95

/**
 * The share of a run's wall time behind it at a reported progress, by the model:
 * the queue and the preparation come before any progress, training brings it to 95 %,
 * validation and saving to 100 %. Dividing the elapsed time by it gives the run's
 * whole length: the live ETA keeps to the estimate's shape and follows the run's pace.
 */
export function runShareDone(progress: number, estimatedRunSeconds: number): number {
  const p = Math.min(100, Math.max(0, progress))
  const before = QUEUED_SECONDS + RUN_PHASE_SECONDS.preparing
  const training = Math.max(0, estimatedRunSeconds - RUN_OVERHEAD_SECONDS)
  const after = RUN_PHASE_SECONDS.validating + RUN_PHASE_SECONDS.saving
  const done = before + (training * Math.min(p, TRAINING_PROGRESS)) / TRAINING_PROGRESS + (after * Math.max(0, p - TRAINING_PROGRESS)) / (100 - TRAINING_PROGRESS)
  return done / (before + training + after)
}
