import type { Db } from '../db/types.js'
import type { Clock } from '../clock.js'
import { artifactLimits, type ResolvedConfig } from '../config/schema.js'
import type { Log } from '../log.js'
import type { Storage } from '../storage/types.js'
import type { ClusterHandle, ClusterSet } from '../cluster/index.js'
import { isClusterError, type ClusterError } from '../cluster/client.js'
import type { StatusResponse } from '../cluster/contract.js'
import { mapLimit } from '../concurrency.js'
import { ERROR_TYPES } from '../jobs/error-types.js'
import { advanceCost, costReading, type CostReading } from '../jobs/cost.js'
import { claimWithinBudget } from '../jobs/budget.js'
import { money } from '../metrics/format.js'
import { applyPollResults, type ArtifactRecord, claimRunningJobs, type PollPoint, type PollUpdate, type RunningJob } from '../db/queries/poll.js'
import { type ClaimedJob, expireInitializingLeases, markJobsRunning, releaseClaimedJobs, type Released, setQueuedWaitReason, type Submitted } from '../db/queries/claim.js'
import { readJobStatus } from '../db/queries/job-views.js'
import { copyArtifacts, type Fetch } from './artifacts.js'

export interface CycleEnv {
  db: Db
  clusters: ClusterSet
  storage: () => Promise<Storage>
  clock: Clock
  config: ResolvedConfig
  log: Log
  daemonId: string
  signal?: AbortSignal
  fetch?: Fetch
}

export interface CycleOptions {
  /** Queued jobs claimed per cycle. */
  batch: number
  /** Cluster calls in flight at once. */
  concurrency: number
  /** Running jobs polled per cycle by this daemon. */
  pollLimit: number
}

export interface CycleReport {
  leasesExpired: number
  claimed: number
  submitted: number
  released: number
  cancelledWhileSubmitting: number
  polled: number
  completed: number
  failed: number
  cancelled: number
  timedOut: number
  pollErrors: number
  waitReason: string | null
  clusterErrors: Record<string, number>
  /** Failed cluster calls by cluster, then kind. */
  clusterCallErrors: Record<string, Record<string, number>>
  /** Jobs submitted, by cluster. */
  submittedTo: Record<string, number>
  breakerTransitions: { cluster: string; from: string; to: string }[]
}

function countClusterError(report: CycleReport, error: { kind: string; cluster: string }): void {
  report.clusterErrors[error.kind] = (report.clusterErrors[error.kind] ?? 0) + 1
  const byKind = (report.clusterCallErrors[error.cluster] ??= {})
  byKind[error.kind] = (byKind[error.kind] ?? 0) + 1
}

function emptyReport(): CycleReport {
  return {
    leasesExpired: 0, claimed: 0, submitted: 0, released: 0, cancelledWhileSubmitting: 0, polled: 0,
    completed: 0, failed: 0, cancelled: 0, timedOut: 0, pollErrors: 0, waitReason: null,
    clusterErrors: {}, clusterCallErrors: {}, submittedTo: {}, breakerTransitions: [],
  }
}


/**
 * One cycle of the job processor (DESIGN section 7): expire leases, claim and submit
 * queued jobs within the budget and the breaker, poll running jobs with bounded
 * concurrency, and write everything back in a constant number of statements.
 */
export async function runCycle(env: CycleEnv, options: CycleOptions): Promise<CycleReport> {
  const report = emptyReport()
  const now = env.clock.now()
  // Its own initializing jobs too: a claim the last cycle lost in a database outage.
  const expired = await expireInitializingLeases(env.db, now, env.config.training.maxAttempts, env.daemonId)
  report.leasesExpired = expired.length
  for (const job of expired) env.log.warn('lease expired: job back in the queue', { job_id: job.id, status: job.status })

  await submitQueued(env, options, report)
  await pollRunning(env, options, report)
  return report
}

async function submitQueued(env: CycleEnv, options: CycleOptions, report: CycleReport): Promise<void> {
  const { db, clock, config, log } = env
  const now = clock.now()
  const choice = await env.clusters.choose()
  if (!choice.handle) {
    report.waitReason = choice.reason
    await setQueuedWaitReason(db, report.waitReason, now)
    return
  }
  const cluster = choice.handle
  if (choice.fallbackFrom) log.warn('primary cluster unavailable: submitting to the fallback', { primary: choice.fallbackFrom, fallback: cluster.config.name })
  // A half-open breaker lets exactly one call through: one job is the probe.
  const limit = choice.decision.probe ? 1 : options.batch
  const claim = await claimWithinBudget(db, env.daemonId, now, config.training.leaseMs, limit, config.budget.monthlyUsd)
  if (claim.waiting > 0) {
    report.waitReason = `monthly budget: ${money(claim.committed)} of ${money(config.budget.monthlyUsd)} committed; ${claim.waiting} queued job(s) wait`
  }
  const claimed = claim.jobs
  report.claimed = claimed.length
  if (claimed.length === 0) return

  const submitted: Submitted[] = []
  const released: Released[] = []
  const failures: ClusterError[] = []
  let successes = 0
  let storage: Storage | undefined
  await mapLimit(claimed, options.concurrency, async (job) => {
    let datasetUrl: string
    try {
      storage ??= await env.storage()
      datasetUrl = await storage.signedUrl(job.storage_bucket, job.storage_path, 24 * 3600)
    } catch (error) {
      released.push({ id: job.id, reason: `could not sign the dataset URL from bucket ${job.storage_bucket}: ${(error as Error).message}`, errorType: ERROR_TYPES.storage, fail: false, countsTowardLimit: false })
      return
    }
    try {
      const response = await cluster.client.submit(
        { job_id: job.id, dataset_url: datasetUrl, hyperparameters: job.hyperparameters, gpu_config: job.gpu_config as never, ...datasetStats(job) },
        env.signal ? { signal: env.signal } : {},
      )
      successes += 1
      submitted.push({ id: job.id, external_job_id: response.external_job_id, cluster_name: cluster.config.name, message: startedMessage(job) })
    } catch (error) {
      released.push(releaseFor(job, error, cluster))
      if (isClusterError(error)) {
        countClusterError(report, error)
        if (error.countsAgainstCluster) failures.push(error)
      }
    }
  })

  const moved = new Set(await markJobsRunning(db, env.daemonId, clock.now(), config.training.leaseMs, submitted))
  report.submitted = moved.size
  if (moved.size > 0) report.submittedTo[cluster.config.name] = moved.size
  for (const job of submitted) {
    if (moved.has(job.id)) {
      log.info('job submitted', { job_id: job.id, external_job_id: job.external_job_id, cluster: job.cluster_name })
      continue
    }
    // The guarded move lost: a cancel came in while we were submitting. Nothing may
    // train unpaid-for and unseen, so the cluster job we just started is cancelled.
    const status = await readJobStatus(db, job.id)
    report.cancelledWhileSubmitting += 1
    log.warn('job changed while it was being submitted: cancelling it on the cluster', { job_id: job.id, status })
    if (status === 'cancelled' || status === 'failed' || status === 'completed') {
      await cluster.client.cancel(job.external_job_id).catch((error: Error) => {
        log.error('could not cancel the cluster job of a cancelled job; orphan cleanup will retry', { job_id: job.id, external_job_id: job.external_job_id, error: error.message })
      })
    }
  }
  const releasedRows = await releaseClaimedJobs(db, env.daemonId, clock.now(), config.training.maxAttempts, released)
  report.released = releasedRows.length
  for (const row of releasedRows) {
    const why = released.find((r) => r.id === row.id)?.reason
    if (row.status === 'failed') log.error('job failed to start', { job_id: row.id, reason: why })
    else log.warn('submission failed: job back in the queue', { job_id: row.id, reason: why })
  }
  await recordBreaker(env, cluster, failures, successes, report)
}

/** What validation measured of the dataset, for the cluster (the simulator times its runs by it). */
function datasetStats(job: ClaimedJob): { dataset_stats?: { training_pairs: number; tokens: number } } {
  if (job.total_training_pairs === null || job.total_tokens === null) return {}
  return { dataset_stats: { training_pairs: Number(job.total_training_pairs), tokens: Number(job.total_tokens) } }
}

function startedMessage(job: ClaimedJob): string {
  const gpus = job.gpu_config.num_gpus ?? 1
  const type = job.gpu_config.gpu_type ?? 'GPU'
  return `Your training job has started on ${gpus}x ${type}`
}

function releaseFor(job: ClaimedJob, error: unknown, cluster: ClusterHandle): Released {
  const message = error instanceof Error ? error.message : String(error)
  if (isClusterError(error)) {
    // Our request was refused for what it is (not for the cluster's state): retrying
    // cannot help, and the job fails with the cluster's reason.
    const permanent = error.kind === 'client_error'
    return {
      id: job.id,
      reason: message,
      errorType: error.kind === 'network' || error.kind === 'timeout' ? ERROR_TYPES.network : ERROR_TYPES.cluster,
      fail: permanent,
      countsTowardLimit: permanent,
    }
  }
  return { id: job.id, reason: `submission to ${cluster.config.name} failed: ${message}`, errorType: ERROR_TYPES.unknown, fail: false, countsTowardLimit: false }
}

/** Feeds the breaker a bounded number of results per cycle, whatever the job count. */
async function recordBreaker(env: CycleEnv, cluster: ClusterHandle, failures: ClusterError[], successes: number, report: CycleReport): Promise<void> {
  const threshold = env.config.breaker.failureThreshold
  for (const failure of failures.slice(0, threshold)) {
    const transition = await cluster.breaker.recordFailure(failure.message)
    if (transition) {
      report.breakerTransitions.push({ cluster: cluster.config.name, ...transition })
      env.log.error('circuit breaker opened', { cluster: cluster.config.name, from: transition.from, error: failure.message })
      break
    }
  }
  if (failures.length === 0 && successes > 0) {
    const transition = await cluster.breaker.recordSuccess()
    if (transition) {
      report.breakerTransitions.push({ cluster: cluster.config.name, ...transition })
      env.log.info('circuit breaker closed', { cluster: cluster.config.name })
    }
  }
}

interface PollOutcome {
  update?: PollUpdate
  point?: PollPoint
  artifact?: ArtifactRecord
  error?: unknown
}

async function pollRunning(env: CycleEnv, options: CycleOptions, report: CycleReport): Promise<void> {
  const { db, clock, config } = env
  const jobs = await claimRunningJobs(db, env.daemonId, clock.now(), config.training.leaseMs, options.pollLimit)
  report.polled = jobs.length
  if (jobs.length === 0) return
  const failuresByCluster = new Map<string, ClusterError[]>()
  const successesByCluster = new Map<string, number>()
  const outcomes = await mapLimit(jobs, options.concurrency, async (job): Promise<PollOutcome> => {
    let handle: ClusterHandle
    try {
      handle = env.clusters.get(job.cluster_name)
    } catch (error) {
      return { error }
    }
    try {
      const outcome = await pollOne(env, handle, job)
      successesByCluster.set(handle.config.name, (successesByCluster.get(handle.config.name) ?? 0) + 1)
      return outcome
    } catch (error) {
      if (isClusterError(error)) {
        countClusterError(report, error)
        if (error.countsAgainstCluster) failuresByCluster.set(handle.config.name, [...(failuresByCluster.get(handle.config.name) ?? []), error])
        if (error.status === 404) {
          // The cluster does not know the job: it cannot finish, so it fails, with the reason.
          return { update: terminalUpdate(env, job, 'failed', `the GPU cluster no longer knows this job (${job.external_job_id})`, ERROR_TYPES.cluster, false) }
        }
      }
      return { error }
    }
  })
  const updates: PollUpdate[] = []
  const points: PollPoint[] = []
  const artifacts: ArtifactRecord[] = []
  for (const [i, outcome] of outcomes.entries()) {
    if (outcome.update) updates.push(outcome.update)
    if (outcome.point) points.push(outcome.point)
    if (outcome.artifact) artifacts.push(outcome.artifact)
    if (outcome.error) {
      report.pollErrors += 1
      env.log.warn('could not poll a job; it is polled again next cycle', { job_id: jobs[i]!.id, error: (outcome.error as Error).message })
    }
  }
  const written = await applyPollResults(db, env.daemonId, clock.now(), updates, points, artifacts)
  for (const row of written) {
    if (row.status === 'completed') report.completed += 1
    else if (row.status === 'failed') report.failed += 1
    else if (row.status === 'cancelled') report.cancelled += 1
    if (row.status !== 'running') env.log.info(`job ${row.status}`, { job_id: row.id })
  }
  for (const update of updates) if (update.error_type === ERROR_TYPES.timeout && written.some((w) => w.id === update.id)) report.timedOut += 1
  for (const handle of env.clusters.list) {
    await recordBreaker(env, handle, failuresByCluster.get(handle.config.name) ?? [], successesByCluster.get(handle.config.name) ?? 0, report)
  }
}

const VALIDATION_FAILURE = /invalid training images|quality validation/i

async function pollOne(env: CycleEnv, handle: ClusterHandle, job: RunningJob): Promise<PollOutcome> {
  const now = env.clock.now()
  const status = await handle.client.status(job.external_job_id, env.signal ? { signal: env.signal } : {})
  const overTime = now.getTime() - job.started_at.getTime() > env.config.training.timeoutMs
  if (overTime && (status.status === 'running' || status.status === 'queued' || status.status === 'initializing')) {
    await handle.client.cancel(job.external_job_id).catch((error: Error) => {
      env.log.error('could not cancel a timed-out job on the cluster; orphan cleanup will retry', { job_id: job.id, error: error.message })
    })
    return { update: terminalUpdate(env, job, 'failed', 'Training timeout', ERROR_TYPES.timeout, false, status) }
  }
  const point = pointOf(job, status)
  if (status.status === 'completed') {
    const storage = await env.storage()
    const limits = artifactLimits(env.config, [handle.url])
    const artifact = await copyArtifacts(storage, job, status.artifacts!, { clock: env.clock, limits, ...(env.fetch ? { fetch: env.fetch } : {}), ...(env.signal ? { signal: env.signal } : {}) })
    if (artifact.status === 'upload_failed') env.log.error('artifact copy failed; kept for `lora cleanup uploads`', { job_id: job.id, error: artifact.upload_error })
    const update = terminalUpdate(env, job, 'completed', null, null, null, status)
    update.artifact_id = artifact.id
    return { update, artifact, ...(point ? { point } : {}) }
  }
  if (status.status === 'failed') {
    const message = status.error_message ?? 'GPU cluster reported failure'
    const notUsersFault = VALIDATION_FAILURE.test(message)
    return { update: terminalUpdate(env, job, 'failed', message, notUsersFault ? ERROR_TYPES.validation : ERROR_TYPES.training, !notUsersFault, status), ...(point ? { point } : {}) }
  }
  if (status.status === 'cancelled') {
    return { update: terminalUpdate(env, job, 'cancelled', null, null, null, status) }
  }
  return { update: progressUpdate(env, job, status), ...(point ? { point } : {}) }
}

function pointOf(job: RunningJob, status: StatusResponse): PollPoint | undefined {
  const m = status.metrics
  if (!m || status.current_step <= 0) return undefined
  return {
    job_id: job.id,
    epoch: status.current_epoch,
    step: status.current_step,
    training_loss: m.training_loss ?? null,
    validation_loss: m.validation_loss ?? null,
    learning_rate: m.learning_rate ?? null,
    gradient_norm: m.gradient_norm ?? null,
    throughput: m.throughput ?? null,
    gpu_utilization: m.gpu_utilization ?? null,
  }
}

/**
 * The job's cost now: from the GPU time the cluster bills (the last figure it gave when
 * it gives none now), from the wall clock when it never says; spread over the months.
 */
function costNow(env: CycleEnv, job: RunningJob, cluster?: StatusResponse): { reading: CostReading; fields: Pick<PollUpdate, 'current_cost' | 'cost_by_month' | 'cost_source' | 'billed_gpu_seconds'> } {
  const now = env.clock.now()
  const reading = costReading(job.gpu_config, job.started_at, now, env.config.gpuPrices, cluster?.billed_gpu_seconds ?? job.billed_gpu_seconds)
  const spread = advanceCost(job, now, reading.amount)
  return {
    reading,
    fields: { current_cost: reading.amount, cost_by_month: spread, cost_source: reading.source, billed_gpu_seconds: reading.billedGpuSeconds },
  }
}

function progressUpdate(env: CycleEnv, job: RunningJob, status: StatusResponse): PollUpdate {
  return {
    id: job.id,
    status: 'running',
    progress: status.progress,
    current_epoch: status.current_epoch,
    current_step: status.current_step,
    total_steps: status.total_steps ?? null,
    total_epochs: status.total_epochs ?? null,
    current_stage: status.stage,
    current_metrics: status.metrics ? { ...status.metrics } : null,
    ...costNow(env, job, status).fields,
    error_message: null,
    error_type: null,
    counts_toward_limit: null,
    artifact_id: null,
    message: null,
  }
}

function terminalUpdate(
  env: CycleEnv,
  job: RunningJob,
  status: 'completed' | 'failed' | 'cancelled',
  errorMessage: string | null,
  errorType: string | null,
  countsTowardLimit: boolean | null,
  cluster?: StatusResponse,
): PollUpdate {
  const cost = costNow(env, job, cluster)
  const message =
    status === 'completed'
      ? `Your training job finished successfully. Cost: ${money(cost.reading.amount)}`
      : status === 'failed'
        ? `Your training job failed: ${errorMessage}`
        : 'Your training job was cancelled'
  return {
    id: job.id,
    status,
    progress: status === 'completed' ? 100 : (cluster?.progress ?? job.progress),
    current_epoch: cluster?.current_epoch ?? 0,
    current_step: cluster?.current_step ?? job.current_step,
    total_steps: cluster?.total_steps ?? null,
    total_epochs: cluster?.total_epochs ?? null,
    current_stage: status,
    current_metrics: cluster?.metrics ? { ...cluster.metrics } : null,
    ...cost.fields,
    error_message: errorMessage,
    error_type: errorType,
    counts_toward_limit: countsTowardLimit,
    artifact_id: null,
    message,
  }
}
