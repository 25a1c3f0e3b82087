import { formatDuration } from '../config/duration.js'
import type { JobRow } from '../db/queries/job-views.js'
import { TERMINAL_STATUSES } from '../db/queries/jobs.js'
import { costSoFar } from './presets.js'
import { runShareDone } from './training-time.js'
import type { Style, StyleName } from '../io/style.js'

/** Small formatting shared by list, show and watch. */

export const plainMoney = (n: number | null | undefined): string => (n === null || n === undefined ? '' : n.toFixed(2))

export const grouped = (n: number): string => Math.round(n).toLocaleString('en-US')

export const isTerminal = (status: string): boolean => (TERMINAL_STATUSES as readonly string[]).includes(status)

/** "5m" or "3d": coarse, for tables. */
export function age(from: Date, now: Date): string {
  const ms = Math.max(0, now.getTime() - from.getTime())
  if (ms < 60_000) return `${Math.floor(ms / 1000)}s`
  if (ms < 3_600_000) return `${Math.floor(ms / 60_000)}m`
  if (ms < 86_400_000) return `${Math.floor(ms / 3_600_000)}h`
  return `${Math.floor(ms / 86_400_000)}d`
}

/** "12m30s": durations down to the second. */
export function span(ms: number): string {
  return ms < 1000 ? '0s' : formatDuration(Math.round(ms / 1000) * 1000)
}

/** What the job has cost: its final cost once finished, else the GPU time so far. */
export function jobCost(job: Pick<JobRow, 'status' | 'final_cost' | 'current_cost' | 'gpu_config' | 'started_at'>, now: Date | null, prices: Record<string, number>): number {
  if (job.final_cost !== null && job.final_cost !== undefined) return job.final_cost
  if (now && job.status === 'running') return Math.max(job.current_cost, costSoFar(job.gpu_config, job.started_at, now, prices))
  return job.current_cost
}

/**
 * Seconds left, as of the job's last update less what has passed since when a clock
 * is given: the time so far divided by the share of the run it stands for. With an
 * estimate that share follows the run's model (training-time.ts: the preparation comes
 * before any progress), without one it is the progress itself. Null when unknown.
 */
export function etaSeconds(job: Pick<JobRow, 'status' | 'progress' | 'started_at' | 'updated_at' | 'estimated_duration_hours'>, now?: Date): number | null {
  if (job.status !== 'running' || !job.started_at || job.progress <= 0 || job.progress >= 100) return null
  const elapsed = job.updated_at.getTime() - job.started_at.getTime()
  if (elapsed <= 0) return null
  const hours = job.estimated_duration_hours === null ? null : Number(job.estimated_duration_hours)
  const done = hours !== null && hours > 0 ? runShareDone(job.progress, hours * 3600) : job.progress / 100
  const remaining = (elapsed * (1 - done)) / done
  const since = now ? Math.max(0, now.getTime() - job.updated_at.getTime()) : 0
  return Math.max(0, Math.round((remaining - since) / 1000))
}

export function epochText(job: Pick<JobRow, 'current_epoch' | 'total_epochs'>): string {
  return `${job.current_epoch}/${job.total_epochs ?? '?'}`
}

export function stepText(job: Pick<JobRow, 'current_step' | 'total_steps'>, group = false): string {
  const f = (n: number) => (group ? grouped(n) : String(n))
  return `${f(job.current_step)}/${job.total_steps === null ? '?' : f(job.total_steps)}`
}

/** The reason beside a job in a list: why it waits, or why it failed. */
export function jobNote(job: Pick<JobRow, 'status' | 'wait_reason' | 'error_message'>): string | null {
  if (job.status === 'queued' && job.wait_reason) return job.wait_reason
  if (job.status === 'failed' && job.error_message) return job.error_message
  return null
}

const STATUS_STYLES: Record<string, StyleName> = {
  queued: 'pending',
  initializing: 'warn',
  running: 'ok',
  completed: 'done',
  failed: 'fail',
  cancelled: 'muted',
}

/** Text about a job in the colour of its status. */
export function paintStatus(style: Style, status: string, text: string): string {
  const name = STATUS_STYLES[status]
  return name ? style[name](text) : text
}

export const STATUS_LABELS: Record<string, string> = {
  queued: 'Queued',
  initializing: 'Initializing',
  running: 'Running',
  completed: 'Completed',
  failed: 'Failed',
  cancelled: 'Cancelled',
}

/** The terminal's width, or 80 where it reports none (a pseudo-terminal without a size says 0). */
export function terminalWidth(columns: number | undefined): number {
  return columns && columns >= 20 ? columns : 80
}
