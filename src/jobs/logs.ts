import type { Context } from '../context.js'
import type { LogLine, LogsResponse } from '../cluster/contract.js'
import { ENDPOINTS } from '../cluster/contract.js'
import { readJob, type JobRow } from '../db/queries/job-views.js'
import { ExitCode, LoraError } from '../errors.js'
import { isTerminal } from './format.js'
import { jobEnded, jobNotFound } from './watch.js'

/**
 * `lora jobs logs`: a run's training log, read from the GPU cluster that runs it
 * (`GET /training/logs/:external_job_id`, an optional endpoint of the contract).
 */

export interface LogsOptions {
  follow: boolean
  /** Only the last N lines (then, with follow, every new one). */
  tail: number | null
  json: boolean
  intervalMs: number
}

/** Lines shown at the end of `jobs show` for a failed job. */
export const SHOW_LOG_LINES = 20

/** One page of the job's log after the cursor, through its cluster's client (retries, timeouts, validation). */
export async function readLogPage(ctx: Context, job: JobRow, after: string | undefined): Promise<LogsResponse> {
  const clusters = await ctx.clusters()
  const handle = clusters.get(job.cluster_name!)
  try {
    return await handle.client.logs(job.external_job_id!, after === undefined ? {} : { after }, { signal: ctx.signal })
  } catch (error) {
    if ((error as { status?: number }).status === 404) {
      throw new LoraError(
        `GPU cluster "${handle.config.name}" has no training log to give: ${ENDPOINTS.logs(job.external_job_id!)} answered 404, as a cluster without the contract's optional logs endpoint does.`,
        { code: 'logs_unsupported', exitCode: ExitCode.failed, hint: `\`lora jobs show ${job.id}\` has the job's status, metrics and error.`, cause: error },
      )
    }
    throw error
  }
}

/** Every line written so far, page after page; the cursor to follow from. */
async function readAll(ctx: Context, job: JobRow, after?: string): Promise<{ lines: LogLine[]; cursor: string | undefined }> {
  const lines: LogLine[] = []
  let cursor = after
  for (;;) {
    const page = await readLogPage(ctx, job, cursor)
    lines.push(...page.lines)
    // A cursor that does not move means nothing more is written yet.
    if (page.lines.length === 0 || page.cursor === cursor) return { lines, cursor: page.cursor }
    cursor = page.cursor
  }
}

/** The last `count` lines of the job's log. */
export async function tailJobLog(ctx: Context, job: JobRow, count: number): Promise<LogLine[]> {
  return (await readAll(ctx, job)).lines.slice(-count)
}

/** A log line as a terminal, a pipe (tab-separated) or --json shows it. */
export function logLineText(line: LogLine, piped: boolean): string {
  const text = line.text.replace(/[\t\r\n]+/g, ' ')
  return piped ? `${line.ts}\t${text}` : `${line.ts.replace(/\.\d+Z$/, 'Z')}  ${text}`
}

/**
 * Prints the log; with `follow`, every new line until the job ends. Returns the exit
 * code: 0, or with `follow` the job's end as `jobs watch` gives it (0 completed, 1
 * failed or cancelled, 130 interrupted).
 */
export async function printJobLogs(ctx: Context, id: string, options: LogsOptions): Promise<ExitCode> {
  const db = await ctx.db()
  const print = (lines: LogLine[]) => {
    for (const line of lines) {
      if (options.json) ctx.io.jsonLine(line)
      else ctx.io.out(logLineText(line, !ctx.io.stdoutIsTTY))
    }
  }
  let job = await readJob(db, id)
  if (!job) throw jobNotFound(id)
  let cursor: string | undefined
  let started = false
  for (;;) {
    const ended = isTerminal(job.status)
    if (job.external_job_id && job.cluster_name) {
      const read = await readAll(ctx, job, cursor)
      print(!started && options.tail !== null ? read.lines.slice(-options.tail) : read.lines)
      started = true
      cursor = read.cursor
    } else if (!options.follow || ended) {
      ctx.io.err(`Job ${job.id} has no training log: it ${ended ? 'never reached' : 'has not reached'} a GPU cluster (it is ${job.status}).`)
      return options.follow ? jobEnded(ctx, job) : ExitCode.ok
    }
    // The job's row is read before its log: once it says the job ended, the log read after it is complete.
    if (!options.follow) return ExitCode.ok
    if (ended) return jobEnded(ctx, job)
    try {
      await ctx.clock.sleep(options.intervalMs, ctx.signal)
    } catch {
      // Interrupted: said below.
    }
    if (ctx.signal.aborted) {
      ctx.io.err(`Stopped following the log: job ${id} keeps running (\`lora jobs logs ${id} --follow\` to follow it again).`)
      return ExitCode.interrupted
    }
    job = await readJob(db, id)
    if (!job) throw jobNotFound(id)
  }
}
