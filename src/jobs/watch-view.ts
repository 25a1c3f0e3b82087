import type { JobRow, MetricsPoint } from '../db/queries/job-views.js'
import { lineChart, type Series } from '../io/chart.js'
import type { Hue, Style } from '../io/style.js'
import { simulatedNote } from '../cluster/simulated.js'
import { progressBar } from '../io/progress.js'
import { money } from '../metrics/format.js'
import { epochText, etaSeconds, grouped, isTerminal, jobCost, paintStatus, plainMoney, span, STATUS_LABELS, stepText } from './format.js'

/**
 * What `jobs watch` prints: the live view of a terminal (what the platform's training
 * monitor page shows), one tab-separated line per change when piped, one JSON object
 * per change with --json.
 */

export interface WatchSnapshot {
  job: JobRow
  points: MetricsPoint[]
}

const metric = (job: JobRow, key: string): number | null => {
  const v = job.current_metrics?.[key]
  return typeof v === 'number' && Number.isFinite(v) ? v : null
}

/** The --json event: flat, stable field names (documented in the README). */
export function watchEvent(job: JobRow) {
  return {
    id: job.id,
    status: job.status,
    stage: job.current_stage,
    progress: job.progress,
    current_epoch: job.current_epoch,
    total_epochs: job.total_epochs,
    current_step: job.current_step,
    total_steps: job.total_steps,
    training_loss: metric(job, 'training_loss'),
    validation_loss: metric(job, 'validation_loss'),
    learning_rate: metric(job, 'learning_rate'),
    throughput: metric(job, 'throughput'),
    gpu_utilization: metric(job, 'gpu_utilization'),
    cost: job.final_cost ?? job.current_cost,
    estimated_total_cost: job.estimated_total_cost,
    eta_seconds: etaSeconds(job),
    wait_reason: job.wait_reason,
    error_message: job.error_message,
    started_at: job.started_at,
    completed_at: job.completed_at,
    updated_at: job.updated_at,
  }
}

/** The columns of the piped lines, printed first as their header. */
export const WATCH_COLUMNS = [
  'updated_at',
  'status',
  'stage',
  'progress',
  'epoch',
  'step',
  'training_loss',
  'validation_loss',
  'throughput',
  'gpu_utilization',
  'cost',
  'eta_seconds',
  'note',
] as const

/**
 * The piped line, tab-separated, in the order of WATCH_COLUMNS; the note says why a
 * queued job waits, why a failed one failed. Empty where unknown.
 */
export function watchLine(job: JobRow): string {
  const e = watchEvent(job)
  const cell = (v: unknown) => (v === null || v === undefined ? '' : String(v).replace(/[\t\n\r]+/g, ' '))
  return [
    job.updated_at.toISOString(),
    e.status,
    e.stage,
    job.progress.toFixed(2),
    epochText(job),
    stepText(job),
    e.training_loss,
    e.validation_loss,
    e.throughput,
    e.gpu_utilization,
    plainMoney(e.cost),
    e.eta_seconds,
    job.status === 'failed' ? job.error_message : job.status === 'queued' ? job.wait_reason : null,
  ]
    .map(cell)
    .join('\t')
}

/** What counts as a change worth a line: everything the line or the event shows but the time. */
export function changeKey(job: JobRow): string {
  const { updated_at: _updated, eta_seconds: _eta, ...rest } = watchEvent(job)
  return JSON.stringify(rest)
}

const ANSI = /\x1b\[[0-9;?]*[A-Za-z]/g

export function visibleLength(text: string): number {
  return [...text.replace(ANSI, '')].length
}

/** Cuts a line to the terminal's width without breaking its colour codes (a wrapped line breaks the redraw). */
export function fitLine(text: string, columns: number): string {
  if (visibleLength(text) <= columns) return text
  let out = ''
  let shown = 0
  let i = 0
  while (i < text.length && shown < columns - 1) {
    const m = /^\x1b\[[0-9;?]*[A-Za-z]/.exec(text.slice(i))
    if (m) {
      out += m[0]
      i += m[0].length
      continue
    }
    const ch = String.fromCodePoint(text.codePointAt(i)!)
    out += ch
    i += ch.length
    shown += 1
  }
  return `${out}…${text.includes('\x1b[') ? '\x1b[0m' : ''}`
}

export interface FrameOptions {
  now: Date
  columns: number
  style: Style
  prices: Record<string, number>
  /** Rows of the loss chart. */
  chartHeight?: number
  /** Simulated time per real time when the job's cluster is the simulator. */
  simulatedSpeed?: number | null
}

/** One frame of the live view, as lines. */
export function renderFrame(snapshot: WatchSnapshot, options: FrameOptions): string[] {
  const { job, points } = snapshot
  const { dim, bold } = options.style
  const lines: string[] = []
  const label = (name: string) => dim(name.padEnd(10))
  const gpu = job.gpu_config as { gpu_type?: string; num_gpus?: number; cost_per_gpu_hour?: number }
  const gpus = gpu.num_gpus ?? 1
  const rate = gpu.cost_per_gpu_hour ?? (gpu.gpu_type ? options.prices[gpu.gpu_type] : undefined)

  const status = paintStatus(options.style, job.status, `● ${STATUS_LABELS[job.status] ?? job.status}`)
  lines.push(`${bold('Training Monitor')} · ${job.dataset_name ?? 'Training Job'}   ${status}${job.current_stage && job.current_stage !== job.status ? dim(` · ${job.current_stage}`) : ''}`)
  const where = job.external_job_id ? ` · ${job.cluster_name ?? 'cluster'}/${job.external_job_id}` : ''
  lines.push(dim(`job ${job.id} · ${job.preset_id ?? 'custom'} · ${gpus}x ${gpu.gpu_type ?? 'GPU'}${rate !== undefined ? ` (${money(rate * gpus)}/h)` : ''}${where}`))
  lines.push('')

  const barWidth = Math.max(10, Math.min(40, options.columns - 24))
  lines.push(`${label('Progress')}${progressBar(job.progress, barWidth, options.style)} ${job.progress.toFixed(1).padStart(5)}%`)
  const eta = etaSeconds(job, options.now)
  const elapsed = job.started_at ? span((job.completed_at ?? options.now).getTime() - job.started_at.getTime()) : null
  lines.push(
    `${label('')}epoch ${epochText(job)} · step ${stepText(job, true)}` +
      (eta !== null ? ` · ETA ${span(eta * 1000)}` : '') +
      (elapsed ? ` · ${isTerminal(job.status) ? 'took' : 'elapsed'} ${elapsed}` : '') +
      (eta !== null || elapsed ? simulatedNote(options.simulatedSpeed ?? null) : ''),
  )
  const loss = metric(job, 'training_loss')
  const val = metric(job, 'validation_loss')
  lines.push(`${label('Loss')}training ${loss === null ? '-' : loss.toFixed(4)} · validation ${val === null ? '-' : val.toFixed(4)}`)
  const throughput = metric(job, 'throughput')
  const util = metric(job, 'gpu_utilization')
  lines.push(`${label('Speed')}${throughput === null ? '-' : `${grouped(throughput)} tokens/s`} · GPU ${util === null ? '-' : `${util.toFixed(1)}%`} (${gpus}x ${gpu.gpu_type ?? 'GPU'})`)
  const cost = jobCost(job, options.now, options.prices)
  lines.push(`${label('Cost')}${money(cost)} ${job.final_cost !== null ? 'final' : 'so far'} · est. ${money(job.estimated_total_cost)}`)
  if (job.status === 'queued') lines.push(`${label('Waiting')}${job.wait_reason ?? 'for a daemon to claim it'}`)
  if (job.status === 'failed' && job.error_message) lines.push(`${label('Error')}${options.style.fail(job.error_message)}`)

  const chart = lossChart(points, options)
  if (chart.length > 0) {
    lines.push('')
    lines.push(...chart)
  } else if (job.status === 'running') {
    lines.push('')
    lines.push(dim('Waiting for the first metrics from the GPU cluster...'))
  }
  return lines.map((line) => fitLine(line, options.columns))
}

const TRAINING_COLOUR: Hue = 'yellow'
const VALIDATION_COLOUR: Hue = 'blue'

/** The training and validation loss curves over the steps of the metrics points. */
export function lossChart(points: MetricsPoint[], options: Pick<FrameOptions, 'columns' | 'style' | 'chartHeight'>): string[] {
  const training = points.map((p) => p.training_loss)
  if (training.filter((v) => v !== null).length < 2) return []
  const validation = points.map((p) => p.validation_loss)
  const hasValidation = validation.some((v) => v !== null)
  const series: Series[] = [{ label: 'training', values: training, color: TRAINING_COLOUR }]
  // Without colour the two lines cannot be told apart: validation is listed by epoch instead.
  if (hasValidation && options.style.enabled) series.push({ label: 'validation', values: validation, color: VALIDATION_COLOUR })
  const plot = lineChart(series, { width: options.columns, height: options.chartHeight ?? 8, style: options.style })
  if (plot.length === 0) return []
  const first = points[0]!.step
  const last = points[points.length - 1]!.step
  const title = `Loss over steps ${grouped(first)}–${grouped(last)}`
  const { hue } = options.style
  const legend = options.style.enabled
    ? `${hue(TRAINING_COLOUR, '━━')} training${hasValidation ? `  ${hue(VALIDATION_COLOUR, '━━')} validation` : ''}`
    : `── training loss${hasValidation ? `; validation loss by epoch: ${validationByEpoch(points)}` : ''}`
  return [title, ...plot, legend]
}

function validationByEpoch(points: MetricsPoint[]): string {
  // The cluster evaluates at the end of each epoch: each new value is the next epoch's.
  const values: number[] = []
  for (const p of points) {
    if (p.validation_loss !== null && p.validation_loss !== values[values.length - 1]) values.push(p.validation_loss)
  }
  return values.map((v, i) => `${i + 1}: ${v.toFixed(4)}`).join(', ')
}

/** The terminal codes of the live view: redraw a frame of `previous` lines in place. */
export const TERMINAL = {
  hideCursor: '\x1b[?25l',
  showCursor: '\x1b[?25h',
  /** Up to the first line of the previous frame, and clear from there down. */
  rewind: (previous: number) => (previous > 0 ? `\x1b[${previous}F\x1b[J` : ''),
}
