import { z } from 'zod'

/**
 * The GPU cluster contract (DESIGN section 5, seed 004), shared by the client, which
 * validates every answer with it, and by the simulator, which validates every request.
 * Response objects are not strict: a cluster may add fields without breaking us.
 */

export const JOB_STATUSES = ['queued', 'initializing', 'running', 'completed', 'failed', 'cancelled'] as const
export const JobStatus = z.enum(JOB_STATUSES)
export type JobStatus = z.infer<typeof JobStatus>

export const TERMINAL_STATUSES: readonly JobStatus[] = ['completed', 'failed', 'cancelled']

export function isTerminalStatus(status: JobStatus): boolean {
  return TERMINAL_STATUSES.includes(status)
}

// z.guid rather than z.uuid: the cluster only needs an 8-4-4-4-12 identifier, and
// hand-written ids in fixtures rarely carry valid RFC 9562 version and variant bits.
const JobId = z.guid()

export const GpuConfig = z.looseObject({
  gpu_type: z.string().min(1),
  num_gpus: z.number().int().positive(),
})
export type GpuConfig = z.infer<typeof GpuConfig>

/**
 * What lora knows of the dataset from its validation. Optional: a cluster reads the
 * dataset itself; the simulator, which never downloads it, times its runs by it.
 */
export const DatasetStats = z.object({
  training_pairs: z.number().int().nonnegative(),
  tokens: z.number().int().nonnegative(),
})
export type DatasetStats = z.infer<typeof DatasetStats>

export const SubmitRequest = z.object({
  job_id: JobId,
  dataset_url: z.url(),
  hyperparameters: z.record(z.string(), z.unknown()),
  gpu_config: GpuConfig,
  callback_url: z.url().optional(),
  dataset_stats: DatasetStats.optional(),
})
export type SubmitRequest = z.infer<typeof SubmitRequest>

export const SubmitResponse = z.object({
  external_job_id: z.string().min(1),
})
export type SubmitResponse = z.infer<typeof SubmitResponse>

export const TrainingMetrics = z.object({
  training_loss: z.number(),
  validation_loss: z.number().optional(),
  learning_rate: z.number().nonnegative(),
  gradient_norm: z.number().nonnegative().optional(),
  throughput: z.number().nonnegative(),
  gpu_utilization: z.number().min(0).max(100),
})
export type TrainingMetrics = z.infer<typeof TrainingMetrics>

export const ArtifactFile = z.object({
  url: z.url(),
  size: z.number().int().nonnegative(),
})
export type ArtifactFile = z.infer<typeof ArtifactFile>

export const Artifacts = z.object({
  adapter_url: z.url(),
  adapter_size: z.number().int().nonnegative(),
  validation_images: z.array(ArtifactFile),
})
export type Artifacts = z.infer<typeof Artifacts>

export const StatusResponse = z
  .object({
    status: JobStatus,
    progress: z.number().min(0).max(100),
    current_epoch: z.number().int().nonnegative(),
    current_step: z.number().int().nonnegative(),
    stage: z.string(),
    total_epochs: z.number().int().positive().optional(),
    total_steps: z.number().int().positive().optional(),
    metrics: TrainingMetrics.optional(),
    error_message: z.string().optional(),
    artifacts: Artifacts.optional(),
    /** GPU time billed so far, all GPUs together; it stops growing at the terminal state. */
    billed_gpu_seconds: z.number().nonnegative().optional(),
  })
  .superRefine((body, ctx) => {
    // A completed job without its adapter cannot be finished on our side: treating
    // the answer as malformed keeps the job running until the cluster says more.
    if (body.status === 'completed' && body.artifacts === undefined) {
      ctx.addIssue({ code: 'custom', path: ['artifacts'], message: 'is required when status is "completed"' })
    }
  })
export type StatusResponse = z.infer<typeof StatusResponse>

export const CancelResponse = z.object({
  external_job_id: z.string().min(1),
  status: JobStatus,
  billed_gpu_seconds: z.number().nonnegative().optional(),
})
export type CancelResponse = z.infer<typeof CancelResponse>

export const JobSummary = z.object({
  // Any string: the cluster may run jobs that are not ours, and orphan detection
  // must still see them.
  job_id: z.string().min(1),
  external_job_id: z.string().min(1),
  status: JobStatus,
  started_at: z.iso.datetime({ offset: true }),
  billed_gpu_seconds: z.number().nonnegative().optional(),
})
export type JobSummary = z.infer<typeof JobSummary>

export const ListJobsResponse = z.object({
  jobs: z.array(JobSummary),
})
export type ListJobsResponse = z.infer<typeof ListJobsResponse>

/** One line of a run's training log, stamped when the cluster wrote it. */
export const LogLine = z.object({
  ts: z.iso.datetime({ offset: true }),
  text: z.string(),
})
export type LogLine = z.infer<typeof LogLine>

/**
 * `GET /training/logs/:external_job_id?after=<cursor>` (optional endpoint): the lines
 * written after the cursor, oldest first, and the cursor to ask from next time. The
 * cursor is opaque: only the cluster that gave it reads it.
 */
export const LogsResponse = z.object({
  lines: z.array(LogLine),
  cursor: z.string(),
})
export type LogsResponse = z.infer<typeof LogsResponse>

/** The error body both sides use for non-2xx answers. */
export const ErrorBody = z.object({ error: z.string() })
export type ErrorBody = z.infer<typeof ErrorBody>

export const ENDPOINTS = {
  submit: 'POST /training/submit',
  status: (externalId: string) => `GET /training/status/${externalId}`,
  cancel: (externalId: string) => `POST /training/cancel/${externalId}`,
  jobs: (active: boolean) => (active ? 'GET /training/jobs?active=true' : 'GET /training/jobs'),
  logs: (externalId: string) => `GET /training/logs/${externalId}`,
} as const

/**
 * One sentence naming the first problem zod found, for error messages:
 * `field "progress" expected number, got string`.
 */
export function describeIssue(error: z.ZodError): string {
  const issue = error.issues[0]
  if (!issue) return 'the body does not match the contract'
  const where = issue.path.length === 0 ? 'the body' : `field "${formatPath(issue.path)}"`
  switch (issue.code) {
    case 'invalid_type': {
      const input = (issue as { input?: unknown }).input
      if (input === undefined && issue.path.length > 0) return `${where} is missing`
      return `${where} expected ${issue.expected}${input === undefined ? '' : `, got ${typeName(input)}`}`
    }
    case 'invalid_value': {
      const input = (issue as { input?: unknown }).input
      const got = input === undefined ? '' : `, got ${truncate(JSON.stringify(input) ?? String(input), 40)}`
      return `${where} expected one of ${issue.values.map((v) => String(v)).join(', ')}${got}`
    }
    case 'custom':
      return `${where} ${issue.message}`
    default:
      // zod's own wording, never the input: a malformed URL may carry a token.
      return `${where} ${issue.message.charAt(0).toLowerCase()}${issue.message.slice(1)}`
  }
}

function formatPath(path: readonly PropertyKey[]): string {
  let text = ''
  for (const key of path) {
    if (typeof key === 'number') text += `[${key}]`
    else text += text === '' ? String(key) : `.${String(key)}`
  }
  return text
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`
}

function typeName(value: unknown): string {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'array'
  return typeof value
}
