import type { Queryable } from '../db/types.js'
import { type ArtifactSummary, type CostRecord, type DatasetSummary, type JobRow, type MetricsPoint, readCostRecords, readJob, readJobArtifact, readJobDataset, readLastMetricsPoints } from '../db/queries/job-views.js'
import { LoraError } from '../errors.js'
import type { IO } from '../io/streams.js'
import { printFields, printTable, type Cell } from '../io/output.js'
import { progressBar } from '../io/progress.js'
import { money } from '../metrics/format.js'
import { epochText, etaSeconds, grouped, jobCost, paintStatus, span, STATUS_LABELS, stepText, terminalWidth } from './format.js'
import { lossChart } from './watch-view.js'
import { logLineText, SHOW_LOG_LINES, tailJobLog } from './logs.js'
import type { Context } from '../context.js'
import type { LogLine } from '../cluster/contract.js'
import { simulatedNote } from '../cluster/simulated.js'

/** What `jobs show` reports: the platform's job details (seed 004), plus the artifact. */
export interface JobDetail {
  job: JobRow
  dataset: DatasetSummary | null
  /** The last metrics points, oldest first. */
  metrics: MetricsPoint[]
  cost_records: CostRecord[]
  artifact: ArtifactSummary | null
}

export const SHOW_METRICS_POINTS = 100

export async function readJobDetail(q: Queryable, id: string): Promise<JobDetail> {
  const job = await readJob(q, id)
  if (!job) throw new LoraError(`No training job has id ${id}.`, { code: 'job_not_found', hint: 'List jobs with `lora jobs list`.' })
  const [dataset, metrics, costRecords, artifact] = await Promise.all([
    readJobDataset(q, job.dataset_id),
    readLastMetricsPoints(q, id, SHOW_METRICS_POINTS),
    readCostRecords(q, id),
    readJobArtifact(q, id),
  ])
  return { job, dataset, metrics, cost_records: costRecords, artifact }
}

const num = (job: JobRow, key: string): number | null => {
  const v = job.current_metrics?.[key]
  return typeof v === 'number' ? v : null
}

/** The end of a failed job's training log, or why it could not be read. */
export type LogTail = { lines: LogLine[] } | { unavailable: string }

export interface ShowOptions {
  now: Date
  prices: Record<string, number>
  /** Simulated time per real time when the job's cluster is the simulator. */
  simulatedSpeed?: number | null
  log?: LogTail | null
}

export async function printJobDetail(io: IO, detail: JobDetail, options: ShowOptions): Promise<void> {
  if (io.stdoutIsTTY) await printForTerminal(io, detail, options)
  else await printPlain(io, detail)
  if (options.log) await printLogTail(io, options.log)
}

/**
 * The last lines of a failed job's training log, for `jobs show`; null for any other
 * job, or one that never reached a cluster. A log that cannot be read is said, not
 * thrown: the rest of the job is worth showing.
 */
export async function readLogTail(ctx: Context, job: JobRow): Promise<LogTail | null> {
  if (job.status !== 'failed' || !job.external_job_id || !job.cluster_name) return null
  try {
    return { lines: await tailJobLog(ctx, job, SHOW_LOG_LINES) }
  } catch (error) {
    if (ctx.signal.aborted) throw error
    return { unavailable: (error as Error).message }
  }
}

/** A failed job's show ends with the last lines of its training log: what the one-line error leaves out. */
async function printLogTail(io: IO, log: LogTail): Promise<void> {
  io.out()
  if ('unavailable' in log) {
    io.out(io.stdoutIsTTY ? io.style.bold('Training log') : 'training_log')
    io.out(`(unavailable: ${log.unavailable})`)
    return
  }
  if (!io.stdoutIsTTY) {
    await printTable(io, [{ header: 'Time', value: (l) => l.ts }, { header: 'Text', value: (l) => l.text.replace(/[\t\r\n]+/g, ' ') }], log.lines, { empty: '(the training log is empty)' })
    return
  }
  io.out(io.style.bold(`Training log (last ${log.lines.length} lines; \`lora jobs logs ID\` for all)`))
  for (const line of log.lines) io.out(logLineText(line, false))
}

/** Piped: one key and value per line, then the cost records and the metrics points as TSV tables. */
async function printPlain(io: IO, d: JobDetail): Promise<void> {
  const j = d.job
  const h = j.hyperparameters
  const g = j.gpu_config
  const fields: [string, Cell][] = [
    ['id', j.id],
    ['status', j.status],
    ['stage', j.current_stage],
    ['user_id', j.user_id],
    ['dataset_id', j.dataset_id],
    ['dataset_name', d.dataset?.name ?? j.dataset_name],
    ['preset', j.preset_id],
    ['progress', j.progress],
    ['epoch', epochText(j)],
    ['step', stepText(j)],
    ['eta_seconds', etaSeconds(j)],
    ['training_loss', num(j, 'training_loss')],
    ['validation_loss', num(j, 'validation_loss')],
    ['learning_rate_now', num(j, 'learning_rate')],
    ['throughput', num(j, 'throughput')],
    ['gpu_utilization', num(j, 'gpu_utilization')],
    ...Object.entries(h).map(([k, v]): [string, Cell] => [`hyperparameters.${k}`, v as Cell]),
    ...Object.entries(g).map(([k, v]): [string, Cell] => [`gpu_config.${k}`, v as Cell]),
    ['current_cost', j.current_cost],
    ['final_cost', j.final_cost],
    ['estimated_total_cost', j.estimated_total_cost],
    ['estimated_duration_hours', j.estimated_duration_hours],
    ['external_job_id', j.external_job_id],
    ['cluster_name', j.cluster_name],
    ['attempts', j.attempts],
    ['claimed_by', j.claimed_by],
    ['lease_expires_at', j.lease_expires_at],
    ['wait_reason', j.wait_reason],
    ['error_type', j.error_type],
    ['error_message', j.error_message],
    ['created_at', j.created_at],
    ['started_at', j.started_at],
    ['completed_at', j.completed_at],
    ['updated_at', j.updated_at],
    ['artifact_status', d.artifact?.status],
    ['artifact_path', d.artifact?.storage_path ? `${d.artifact.storage_bucket}/${d.artifact.storage_path}` : null],
  ]
  printFields(io, fields.map(([k, v]): [string, Cell] => [k, typeof v === 'string' ? v.replace(/[\t\n\r]+/g, ' ') : v]))
  io.out()
  await printCostRecords(io, d.cost_records)
  io.out()
  await printPoints(io, d.metrics)
}

async function printCostRecords(io: IO, records: CostRecord[]): Promise<void> {
  await printTable(
    io,
    [
      { header: 'Recorded at', value: (r) => r.recorded_at },
      { header: 'Cost type', value: (r) => r.cost_type },
      { header: 'Amount', value: (r) => (io.stdoutIsTTY ? money(r.amount) : r.amount.toFixed(2)), align: 'right' },
      { header: 'Billing period', value: (r) => r.billing_period },
    ],
    records,
    { empty: '(no cost records)' },
  )
}

async function printPoints(io: IO, points: MetricsPoint[]): Promise<void> {
  const fixed = (v: number | null, digits: number) => (v === null ? null : v.toFixed(digits))
  await printTable(
    io,
    [
      { header: 'Step', value: (p) => p.step, align: 'right' },
      { header: 'Epoch', value: (p) => p.epoch, align: 'right' },
      { header: 'Training loss', value: (p) => fixed(p.training_loss, 4), align: 'right' },
      { header: 'Validation loss', value: (p) => fixed(p.validation_loss, 4), align: 'right' },
      { header: 'Learning rate', value: (p) => p.learning_rate, align: 'right' },
      { header: 'Throughput', value: (p) => p.throughput, align: 'right' },
      { header: 'GPU util', value: (p) => fixed(p.gpu_utilization, 1), align: 'right' },
      { header: 'Timestamp', value: (p) => p.timestamp },
    ],
    points,
    { empty: '(no metrics points yet)' },
  )
}

/** At a terminal: the sections of the training monitor page, with the loss chart. */
async function printForTerminal(io: IO, d: JobDetail, options: ShowOptions): Promise<void> {
  const j = d.job
  const style = io.style
  const h = j.hyperparameters as Record<string, unknown>
  const g = j.gpu_config as { gpu_type?: string; num_gpus?: number; cost_per_gpu_hour?: number }
  const rate = g.cost_per_gpu_hour ?? (g.gpu_type ? options.prices[g.gpu_type] : undefined)
  const stage = j.current_stage && j.current_stage !== j.status ? ` · ${j.current_stage}` : ''
  const dataset = d.dataset
    ? `${d.dataset.name} (${d.dataset.id}): ${d.dataset.format}, ${grouped(d.dataset.total_training_pairs ?? 0)} pairs, ${grouped(d.dataset.total_tokens ?? 0)} tokens`
    : j.dataset_id
  const eta = etaSeconds(j, options.now)
  const loss = num(j, 'training_loss')
  const val = num(j, 'validation_loss')
  const throughput = num(j, 'throughput')
  const util = num(j, 'gpu_utilization')
  const lr = num(j, 'learning_rate')

  printFields(io, [
    ['Job', j.id],
    ['Status', paintStatus(style, j.status, `● ${STATUS_LABELS[j.status] ?? j.status}`) + stage],
    ['Dataset', dataset],
    ['User', j.user_id],
    ['Preset', j.preset_id],
    ['Progress', `${progressBar(j.progress, 30, style)} ${j.progress.toFixed(1)}%  epoch ${epochText(j)} · step ${stepText(j, true)}${eta !== null ? ` · ETA ${span(eta * 1000)}${simulatedNote(options.simulatedSpeed ?? null)}` : ''}`],
    ['Loss', `training ${loss === null ? '-' : loss.toFixed(4)} · validation ${val === null ? '-' : val.toFixed(4)}`],
    ['Speed', `${throughput === null ? '-' : `${grouped(throughput)} tokens/s`} · GPU ${util === null ? '-' : `${util.toFixed(1)}%`}${lr === null ? '' : ` · learning rate ${lr}`}`],
    ['Cost', `${money(jobCost(j, options.now, options.prices))} ${j.final_cost !== null ? 'final' : 'so far'} · est. ${money(j.estimated_total_cost)}${j.estimated_duration_hours !== null ? ` over ${j.estimated_duration_hours} h${simulatedNote(options.simulatedSpeed ?? null)}` : ''}`],
    ...(j.wait_reason && j.status === 'queued' ? [['Waiting', j.wait_reason] as [string, Cell]] : []),
    ...(j.error_message ? [['Error', style.fail(`${j.error_message}${j.error_type ? ` (${j.error_type})` : ''}`)] as [string, Cell]] : []),
  ])
  io.out()
  io.out(style.bold('Hyperparameters'))
  printFields(io, [
    ['  learning rate', h.learning_rate as Cell],
    ['  batch size', h.batch_size as Cell],
    ['  epochs', h.num_epochs as Cell],
    ['  LoRA rank', h.lora_rank as Cell],
    ['  LoRA alpha', h.lora_alpha as Cell],
    ['  dropout', h.lora_dropout as Cell],
    ['  base model', h.base_model as Cell],
  ])
  io.out(style.bold('GPU configuration'))
  printFields(io, [
    ['  GPU type', g.gpu_type],
    ['  GPU count', g.num_gpus],
    ['  cost per GPU', rate === undefined ? null : `${money(rate)}/h`],
    ['  hourly rate', rate === undefined ? null : `${money(rate * (g.num_gpus ?? 1))}/h`],
  ])
  io.out(style.bold('Timeline'))
  printFields(io, [
    ['  created', j.created_at],
    ['  started', j.started_at],
    ['  completed', j.completed_at],
    ['  updated', j.updated_at],
  ])
  io.out(style.bold('Cluster'))
  printFields(io, [
    ['  external job id', j.external_job_id],
    ['  cluster', j.cluster_name],
    ['  attempts', j.attempts],
    ['  claimed by', j.claimed_by ? `${j.claimed_by}${j.lease_expires_at ? ` (lease until ${j.lease_expires_at.toISOString()})` : ''}` : null],
  ])
  if (d.artifact) {
    const a = d.artifact
    const size = (a.artifacts as { lora_adapter_size?: number }).lora_adapter_size
    io.out(style.bold('Artifact'))
    printFields(io, [
      ['  status', a.status],
      ['  adapter', a.storage_path ? `${a.storage_bucket}/${a.storage_path}${size !== undefined ? ` (${grouped(size)} bytes)` : ''}` : null],
      ['  validation images', a.validation_image_urls.length],
      ...(a.upload_error ? [['  upload error', a.upload_error] as [string, Cell]] : []),
    ])
  }
  io.out()
  io.out(style.bold('Cost records'))
  await printCostRecords(io, d.cost_records)
  const chart = lossChart(d.metrics, { columns: terminalWidth(io.columns), style, chartHeight: 10 })
  if (chart.length > 0) {
    io.out()
    for (const line of chart) io.out(line)
  }
  io.out()
  const last = d.metrics.slice(-10)
  io.out(style.bold(`Last metrics points (${last.length} of ${d.metrics.length} shown; --json for all)`))
  await printPoints(io, last)
}
