import type { Context } from '../context.js'
import type { Db } from '../db/types.js'
import { ExitCode, LoraError } from '../errors.js'
import { isConnectionError, rideOutStrayConnectionFailures } from '../db/failures.js'
import { JOB_CHANNEL } from '../db/queries/jobs.js'
import { type JobRow, type MetricsPoint, readJob, readLastMetricsPoints } from '../db/queries/job-views.js'
import { isTerminal, span, terminalWidth } from './format.js'
import { money } from '../metrics/format.js'
import { changeKey, renderFrame, TERMINAL, WATCH_COLUMNS, watchEvent, watchLine, type WatchSnapshot } from './watch-view.js'
import { simulatedSpeed } from '../cluster/simulated.js'

export interface WatchOptions {
  intervalMs: number
  json: boolean
  /** Metrics points kept for the chart of the live view. */
  chartPoints?: number
}

/** Backoff of reconnection attempts: 1 s doubling to 30 s, for as long as it takes. */
export const RECONNECT_BACKOFF_MS = { first: 1_000, max: 30_000 }

interface Renderer {
  show(snapshot: WatchSnapshot, changed: boolean, simulatedSpeed: number | null): void
  /** A line on stderr that the live view must not draw over. */
  notice(text: string): void
  close(): void
}

function rendererFor(ctx: Context, options: WatchOptions, prices: Record<string, number>): Renderer {
  const io = ctx.io
  if (options.json || !io.stdoutIsTTY) {
    let headed = options.json
    return {
      show: ({ job }, changed) => {
        if (!changed) return
        if (options.json) return io.jsonLine(watchEvent(job))
        // Piped lines are a table: its header first, so that cut and awk can name the columns.
        if (!headed) io.out(WATCH_COLUMNS.join('\t'))
        headed = true
        io.out(watchLine(job))
      },
      notice: (text) => io.err(text),
      close: () => {},
    }
  }
  let previous = 0
  io.stdout.write(TERMINAL.hideCursor)
  return {
    show(snapshot, _changed, simulatedSpeed) {
      const lines = renderFrame(snapshot, { now: ctx.clock.now(), columns: terminalWidth(io.columns), style: io.style, prices, simulatedSpeed })
      io.out(TERMINAL.rewind(previous) + lines.join('\n'))
      previous = lines.length
    },
    notice(text) {
      io.err(text)
      // stderr is the same terminal: the next frame starts below the notice.
      previous = 0
    },
    close: () => {
      io.stdout.write(TERMINAL.showCursor)
    },
  }
}

/**
 * Follows a job until it reaches a terminal state: woken by the daemon's NOTIFY where
 * the connection can LISTEN, and polling every interval regardless. A lost database
 * connection is said on stderr and retried with backoff; Ctrl-C leaves the job running.
 * Returns the exit code: 0 completed, 1 failed or cancelled, 130 interrupted.
 */
export async function watchJob(ctx: Context, id: string, options: WatchOptions): Promise<ExitCode> {
  // A connection that dies outside a read (the database restarting) is an outage the
  // reads below ride out, not a crash.
  let notice = (text: string) => ctx.io.err(text)
  const stopRiding = rideOutStrayConnectionFailures((error) => notice(`lost a database connection (${error.message}); it is reopened on the next read`))
  try {
    return await watchJobThrough(ctx, id, options, (n) => (notice = n))
  } finally {
    stopRiding()
  }
}

async function watchJobThrough(ctx: Context, id: string, options: WatchOptions, setNotice: (notice: (text: string) => void) => void): Promise<ExitCode> {
  const db = await ctx.db()
  const config = await ctx.config()
  const live = ctx.io.stdoutIsTTY && !options.json
  let points: MetricsPoint[] = []
  let pointsStep = -1
  const read = async (): Promise<WatchSnapshot> => {
    const job = await readJob(db, id)
    if (!job) throw jobNotFound(id)
    // Only the live view draws the curves; it reads them again when the job has moved.
    if (live && (job.current_step !== pointsStep || isTerminal(job.status))) {
      points = await readLastMetricsPoints(db, id, options.chartPoints ?? 500)
      pointsStep = job.current_step
    }
    return { job, points }
  }

  const renderer = rendererFor(ctx, options, config.gpuPrices)
  setNotice((text) => renderer.notice(text))
  const wake = new Waker()
  let unlisten: (() => Promise<void>) | null = null
  /** A read that outlasts a lost connection: said on stderr, retried with backoff. Null when interrupted. */
  const readThrough = async (): Promise<WatchSnapshot | null> => {
    for (let failures = 0; ; ) {
      try {
        const snapshot = await read()
        if (failures > 0) renderer.notice('reconnected to the database; watching again')
        return snapshot
      } catch (error) {
        if (ctx.signal.aborted) return null
        if (!isConnectionError(error)) throw error
        failures += 1
        const delay = Math.min(RECONNECT_BACKOFF_MS.max, RECONNECT_BACKOFF_MS.first * 2 ** (failures - 1))
        renderer.notice(`lost the database connection (${(error as Error).message}); retrying in ${span(delay)}`)
        if (!(await wake.sleep(ctx, delay, false))) return null
      }
    }
  }
  try {
    let snapshot = await readThrough()
    if (!snapshot) return interrupted(ctx, id)
    if ((db as { mode?: string }).mode === 'held' && !isTerminal(snapshot.job.status)) {
      // This process opened the embedded database itself: no daemon serves it, and none can start while we hold it.
      renderer.notice('note: no `lora daemon` (or `lora local start`) is serving the embedded database, so the job will not move; start one first, then watch.')
    }
    unlisten = await listenForJob(db, id, wake, renderer)
    let lastKey: string | null = null
    let cluster: string | null | undefined
    let speed: number | null = null
    for (;;) {
      if (snapshot.job.cluster_name !== cluster) {
        cluster = snapshot.job.cluster_name
        speed = live ? await simulatedSpeed(config, cluster) : null
      }
      const key = changeKey(snapshot.job)
      renderer.show(snapshot, key !== lastKey, speed)
      lastKey = key
      if (isTerminal(snapshot.job.status)) return jobEnded(ctx, snapshot.job)
      if (!(await wake.sleep(ctx, options.intervalMs, true))) return interrupted(ctx, id)
      snapshot = await readThrough()
      if (!snapshot) return interrupted(ctx, id)
    }
  } finally {
    renderer.close()
    await unlisten?.().catch(() => {})
  }
}

export function jobNotFound(id: string): LoraError {
  return new LoraError(`No training job has id ${id}.`, { code: 'job_not_found', hint: 'List jobs with `lora jobs list`.' })
}

function interrupted(ctx: Context, id: string): ExitCode {
  ctx.io.err(`Stopped watching: job ${id} keeps running (\`lora jobs watch ${id}\` to follow it again).`)
  return ExitCode.interrupted
}

/** Says how the job ended, on stderr, and returns the exit code of its end: 0 completed, 1 failed or cancelled. */
export function jobEnded(ctx: Context, job: JobRow): ExitCode {
  const cost = money(job.final_cost ?? job.current_cost)
  if (job.status === 'completed') {
    ctx.io.err(`Job ${job.id} completed; final cost ${cost}.`)
    return ExitCode.ok
  }
  if (job.status === 'failed') ctx.io.err(`Job ${job.id} failed: ${job.error_message ?? 'no reason recorded'}.`.replace(/\.\.$/, '.'))
  else ctx.io.err(`Job ${job.id} was cancelled; final cost ${cost}.`)
  return ExitCode.failed
}

/**
 * LISTEN where the connection offers it. The embedded socket serves one connection
 * at a time, and a listening connection would hold it: there, and through a
 * transaction pooler (listen returns null), polling alone keeps the watch going.
 */
async function listenForJob(db: Db, id: string, wake: Waker, renderer: Renderer): Promise<(() => Promise<void>) | null> {
  if (db.kind === 'pglite-socket') return null
  try {
    return await db.listen(JOB_CHANNEL, (payload) => {
      if (payload.startsWith(`${id}:`)) wake.notify()
    })
  } catch (error) {
    renderer.notice(`cannot LISTEN for job changes (${(error as Error).message}); polling instead`)
    return null
  }
}

/** Sleeps on the context's clock until the interval passes or a notification comes. */
class Waker {
  private pending = false
  private current: AbortController | null = null

  notify(): void {
    this.pending = true
    this.current?.abort()
  }

  /** False when the watch was interrupted. */
  async sleep(ctx: Context, ms: number, wakeOnNotify: boolean): Promise<boolean> {
    if (wakeOnNotify && this.pending) {
      this.pending = false
      return !ctx.signal.aborted
    }
    const controller = new AbortController()
    if (wakeOnNotify) this.current = controller
    try {
      await ctx.clock.sleep(ms, AbortSignal.any([ctx.signal, controller.signal]))
    } catch {
      // Woken early by a notification, or interrupted: told apart below.
    } finally {
      this.current = null
      if (wakeOnNotify) this.pending = false
    }
    return !ctx.signal.aborted
  }
}
