import type { Clock } from '../clock.js'
import {
  describeIssue,
  isTerminalStatus,
  SubmitRequest,
  type Artifacts,
  type CancelResponse,
  type ListJobsResponse,
  type LogsResponse,
  type StatusResponse,
  type SubmitResponse,
} from './contract.js'
import { adapterBytes, validationImageBytes, VALIDATION_IMAGE_COUNT } from './simulator-artifacts.js'
import { plannedLog, type PlannedLine } from './simulator-logs.js'
import { drawFate, hashHex, planJob, statusAt, type JobPlan } from './simulator-model.js'
import { loadState, StateWriter, type StoredJob } from './simulator-state.js'

/**
 * The simulated cluster's jobs, without HTTP: submissions under idempotency keys,
 * status computed from elapsed time, cancellation, listing, artifacts, persistence.
 * Refusals are HttpProblems that the server turns into `{ error }` answers.
 */

export class HttpProblem extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message)
  }
}

const MAX_GPUS_PER_JOB = 8
const MAX_EPOCHS = 100
/** Log lines per answer: a client that wants more asks again from the cursor. */
const LOG_PAGE_LINES = 1000

export interface JobsOptions {
  clock: Clock
  speed: number
  seed: number
  stateFile?: string
  /** Read at each new submission: a job's fate is fixed when it is created. */
  fateRates: () => { jobFailRate: number; neverFinishRate: number }
  /** Cancel calls each job acknowledges but ignores before it obeys (orphan tests). */
  cancelResistance?: () => number
}

export interface ArtifactFile {
  contentType: string
  bytes: Buffer
}

function withoutQuery(url: string): string {
  // A signed dataset URL's token has no business in a state file on disk.
  const parsed = new URL(url)
  parsed.search = ''
  return parsed.toString()
}

export class SimulatedJobs {
  /** The server's own address, for artifact URLs; set once it listens. */
  baseUrl = ''
  private readonly byExternalId = new Map<string, StoredJob>()
  private readonly byJobId = new Map<string, StoredJob>()
  private readonly plans = new Map<string, JobPlan>()
  private readonly logs = new Map<string, PlannedLine[]>()
  private readonly files = new Map<string, { adapter: Buffer; images: Buffer[] }>()
  private readonly writer: StateWriter | undefined
  private readonly ignoredCancels = new Map<string, number>()

  private constructor(
    private readonly options: JobsOptions,
    stored: StoredJob[],
  ) {
    for (const job of stored) {
      this.byExternalId.set(job.external_job_id, job)
      this.byJobId.set(job.job_id, job)
    }
    this.writer =
      options.stateFile === undefined ? undefined : new StateWriter(options.stateFile, () => [...this.byExternalId.values()])
  }

  static async open(options: JobsOptions): Promise<SimulatedJobs> {
    return new SimulatedJobs(options, options.stateFile === undefined ? [] : await loadState(options.stateFile))
  }

  submissions(jobId: string): number {
    return this.byJobId.get(jobId)?.submissions ?? 0
  }

  /** Resolves once every change so far is on disk. */
  flush(): Promise<void> {
    return this.writer?.flush() ?? Promise.resolve()
  }

  submit(body: unknown, idempotencyKey: string | undefined): { created: boolean; response: SubmitResponse } {
    const checked = SubmitRequest.safeParse(body, { reportInput: true })
    if (!checked.success) throw new HttpProblem(400, `invalid submission: ${describeIssue(checked.error)}`)
    const request = checked.data
    if (idempotencyKey === undefined || idempotencyKey === '') throw new HttpProblem(400, 'the Idempotency-Key header is required')
    if (idempotencyKey !== request.job_id) throw new HttpProblem(400, 'the Idempotency-Key header must equal job_id')
    if (request.gpu_config.num_gpus > MAX_GPUS_PER_JOB) {
      throw new HttpProblem(400, `at most ${MAX_GPUS_PER_JOB} GPUs per job, got ${request.gpu_config.num_gpus}`)
    }
    const epochs = request.hyperparameters.num_epochs
    if (epochs !== undefined && !(typeof epochs === 'number' && Number.isInteger(epochs) && epochs >= 1 && epochs <= MAX_EPOCHS)) {
      throw new HttpProblem(400, `hyperparameters.num_epochs must be a whole number from 1 to ${MAX_EPOCHS}`)
    }

    const existing = this.byJobId.get(request.job_id)
    if (existing !== undefined) {
      existing.submissions += 1
      this.writer?.schedule()
      return { created: false, response: { external_job_id: existing.external_job_id } }
    }
    const { seed, clock } = this.options
    const job: StoredJob = {
      external_job_id: `sim-${hashHex(16, seed, request.job_id, 'external-id')}`,
      job_id: request.job_id,
      request: { ...request, dataset_url: withoutQuery(request.dataset_url) },
      submitted_at: clock.now().toISOString(),
      seed,
      fate: drawFate(seed, request.job_id, this.options.fateRates()),
      submissions: 1,
    }
    this.byExternalId.set(job.external_job_id, job)
    this.byJobId.set(job.job_id, job)
    this.writer?.schedule()
    return { created: true, response: { external_job_id: job.external_job_id } }
  }

  status(rawExternalId: string): StatusResponse {
    return this.statusOf(this.find(rawExternalId))
  }

  cancel(rawExternalId: string): CancelResponse {
    const job = this.find(rawExternalId)
    const ignored = this.ignoredCancels.get(job.external_job_id) ?? 0
    if (ignored < (this.options.cancelResistance?.() ?? 0) && !isTerminalStatus(this.statusOf(job).status)) {
      // A stubborn instance: the call is acknowledged, the job keeps running.
      this.ignoredCancels.set(job.external_job_id, ignored + 1)
      return { external_job_id: job.external_job_id, status: this.statusOf(job).status }
    }
    // Cancelling a finished job changes nothing and says how it ended.
    if (!isTerminalStatus(this.statusOf(job).status)) {
      job.cancelled_after_ms = this.elapsedMs(job)
      this.logs.delete(job.external_job_id)
      this.writer?.schedule()
    }
    const after = this.statusOf(job)
    return { external_job_id: job.external_job_id, status: after.status, billed_gpu_seconds: after.billed_gpu_seconds ?? 0 }
  }

  list(activeOnly: boolean): ListJobsResponse {
    const jobs: ListJobsResponse['jobs'] = []
    for (const job of this.byExternalId.values()) {
      const { status, billed_gpu_seconds } = this.statusOf(job)
      if (activeOnly && isTerminalStatus(status)) continue
      jobs.push({ job_id: job.job_id, external_job_id: job.external_job_id, status, started_at: job.submitted_at, billed_gpu_seconds: billed_gpu_seconds ?? 0 })
    }
    return { jobs }
  }

  /**
   * The lines the run has written by now after the cursor, which is the count of
   * lines already given. Each line is stamped with the real time it was written at:
   * simulated time since submission, divided by the speed.
   */
  log(rawExternalId: string, after: string | null): LogsResponse {
    const job = this.find(rawExternalId)
    if (after !== null && !/^\d{1,9}$/.test(after)) throw new HttpProblem(400, 'after must be a cursor this cluster gave')
    let lines = this.logs.get(job.external_job_id)
    if (lines === undefined) {
      lines = plannedLog(this.planOf(job), job.request, job.cancelled_after_ms)
      this.logs.set(job.external_job_id, lines)
    }
    const elapsed = this.elapsedMs(job)
    let written = 0
    while (written < lines.length && lines[written]!.atMs <= elapsed) written += 1
    const from = Math.min(Number(after ?? 0), written)
    const to = Math.min(written, from + LOG_PAGE_LINES)
    const submitted = Date.parse(job.submitted_at)
    return {
      lines: lines.slice(from, to).map((line) => ({ ts: new Date(submitted + line.atMs / this.options.speed).toISOString(), text: line.text })),
      cursor: String(to),
    }
  }

  /** `file` is "adapter" or a validation image number from 1. */
  artifact(rawExternalId: string, file: 'adapter' | number, token: string | null): ArtifactFile {
    const job = this.find(rawExternalId)
    // Artifact URLs work like signed storage URLs: no bearer, a token in the query.
    if (token !== this.artifactToken(job)) throw new HttpProblem(403, 'missing or wrong artifact token')
    if (this.statusOf(job).status !== 'completed') throw new HttpProblem(404, 'the job has no artifacts yet')
    const files = this.filesOf(job)
    if (file === 'adapter') return { contentType: 'application/octet-stream', bytes: files.adapter }
    const image = files.images[file - 1]
    if (image === undefined) throw new HttpProblem(404, 'no such validation image')
    return { contentType: 'image/jpeg', bytes: image }
  }

  private find(rawExternalId: string): StoredJob {
    let id: string
    try {
      id = decodeURIComponent(rawExternalId)
    } catch {
      throw new HttpProblem(400, 'the external job id is not valid URL encoding')
    }
    const job = this.byExternalId.get(id)
    if (job === undefined) throw new HttpProblem(404, `unknown external_job_id "${id.slice(0, 100)}"`)
    return job
  }

  private planOf(job: StoredJob): JobPlan {
    let plan = this.plans.get(job.external_job_id)
    if (plan === undefined) {
      plan = planJob(job.request, job.seed, job.fate)
      this.plans.set(job.external_job_id, plan)
    }
    return plan
  }

  private elapsedMs(job: StoredJob): number {
    return Math.max(0, (this.options.clock.now().getTime() - Date.parse(job.submitted_at)) * this.options.speed)
  }

  private statusOf(job: StoredJob): StatusResponse {
    const status = statusAt(this.planOf(job), this.elapsedMs(job), job.cancelled_after_ms)
    return status.status === 'completed' ? { ...status, artifacts: this.artifactsOf(job) } : status
  }

  private artifactToken(job: StoredJob): string {
    return hashHex(32, job.seed, job.external_job_id, 'artifact-token')
  }

  private filesOf(job: StoredJob): { adapter: Buffer; images: Buffer[] } {
    let files = this.files.get(job.external_job_id)
    if (files === undefined) {
      files = {
        adapter: adapterBytes(job.external_job_id, job.job_id, this.planOf(job).loraRank),
        images: Array.from({ length: VALIDATION_IMAGE_COUNT }, (_, i) => validationImageBytes(job.external_job_id, i + 1)),
      }
      this.files.set(job.external_job_id, files)
    }
    return files
  }

  private artifactsOf(job: StoredJob): Artifacts {
    const files = this.filesOf(job)
    const base = `${this.baseUrl}/artifacts/${encodeURIComponent(job.external_job_id)}`
    const token = `?token=${this.artifactToken(job)}`
    return {
      adapter_url: `${base}/adapter.safetensors${token}`,
      adapter_size: files.adapter.length,
      validation_images: files.images.map((bytes, i) => ({ url: `${base}/validation/${i + 1}.jpg${token}`, size: bytes.length })),
    }
  }
}
