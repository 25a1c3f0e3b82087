import type { Clock } from '../clock.js'
import type { IO } from '../io/streams.js'
import { progressBar } from '../io/progress.js'

export interface ByteProgress {
  update(done: number, total: number): void
  /** Clears the bar (terminal) or prints the last line (pipe). */
  done(): void
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB']
  let value = bytes
  let unit = 0
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024
    unit++
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(1)} ${units[unit]}`
}

function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?'
  const s = Math.round(seconds)
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`
}

const BAR_WIDTH = 24
const REDRAW_MS = 100
const PLAIN_STEP = 0.1
const PLAIN_MIN_MS = 5_000

/**
 * A progress bar of bytes on stderr: bytes done, rate and time left, redrawn at most
 * ten times a second on a terminal. Piped, a plain line now and then (every tenth of
 * the way, no more often than every 5 s) and a last one at the end, so cron and CI
 * logs show long work moving; short work prints nothing.
 */
export function byteProgress(io: IO, clock: Clock, label: string): ByteProgress {
  const started = clock.now().getTime()
  let first: number | null = null
  let lastDraw = -Infinity
  let lastPlain = started
  let plainStep = 0
  let last = { done: 0, total: 0 }
  let drawn = false

  const rateOf = (done: number, now: number) => {
    const seconds = (now - started) / 1000
    return seconds > 0 ? (done - (first ?? 0)) / seconds : 0
  }

  const line = (done: number, total: number, now: number): string => {
    const share = total > 0 ? Math.min(1, done / total) : 1
    const rate = rateOf(done, now)
    const eta = rate > 0 ? (total - done) / rate : Number.POSITIVE_INFINITY
    return `${Math.floor(share * 100)
      .toString()
      .padStart(3)}%  ${formatBytes(done)} / ${formatBytes(total)}  ${formatBytes(rate)}/s  ETA ${done >= total ? '0s' : formatSeconds(eta)}`
  }

  return {
    update(done, total) {
      first ??= done
      last = { done, total }
      const now = clock.now().getTime()
      if (io.stderrIsTTY) {
        if (now - lastDraw < REDRAW_MS && done < total) return
        lastDraw = now
        const bar = progressBar(total > 0 ? (done / total) * 100 : 100, BAR_WIDTH, io.errStyle)
        io.errRaw(`\r\x1b[K${label} ${bar} ${line(done, total, now).trimStart()}`)
        drawn = true
        return
      }
      const step = total > 0 ? Math.floor(done / total / PLAIN_STEP) : 10
      if (step > plainStep && now - lastPlain >= PLAIN_MIN_MS && done < total) {
        plainStep = step
        lastPlain = now
        io.err(`${label}: ${line(done, total, now).trim()}`)
      }
    },
    done() {
      if (io.stderrIsTTY) {
        if (drawn) io.errRaw('\r\x1b[K')
        return
      }
      // Short work printed nothing; long work ends its lines at 100%.
      if (plainStep > 0) io.err(`${label}: ${line(last.done, last.total, clock.now().getTime()).trim()}`)
    },
  }
}
