/** Time, injected: domain code never calls Date.now() or a bare setTimeout. */
export interface Clock {
  now(): Date
  /** Resolves after ms, or rejects with an AbortError when the signal aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>
}

function abortError(signal: AbortSignal): Error {
  const reason = signal.reason
  if (reason instanceof Error) return reason
  const error = new Error('The operation was aborted.')
  error.name = 'AbortError'
  return error
}

export const systemClock: Clock = {
  now: () => new Date(),
  sleep(ms, signal) {
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(abortError(signal))
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort)
        resolve()
      }, Math.max(0, ms))
      const onAbort = () => {
        clearTimeout(timer)
        reject(abortError(signal!))
      }
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  },
}

/**
 * A clock that moves only when told to. sleep() resolves when advance() passes its
 * deadline, so retry, breaker and daemon tests run in milliseconds.
 */
export class FakeClock implements Clock {
  private current: number
  private sleepers: { until: number; resolve: () => void; reject: (e: Error) => void }[] = []
  /** Every sleep requested, in order: what backoff tests assert on. */
  readonly sleeps: number[] = []

  constructor(start: Date | string | number = '2026-01-15T12:00:00Z') {
    this.current = new Date(start).getTime()
  }

  now(): Date {
    return new Date(this.current)
  }

  set(to: Date | string | number): void {
    this.current = new Date(to).getTime()
    this.wake()
  }

  advance(ms: number): void {
    this.current += ms
    this.wake()
  }

  /** Number of sleepers still waiting. */
  get pending(): number {
    return this.sleepers.length
  }

  sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeps.push(ms)
    return new Promise((resolve, reject) => {
      if (signal?.aborted) return reject(abortError(signal))
      const sleeper = { until: this.current + Math.max(0, ms), resolve, reject }
      this.sleepers.push(sleeper)
      signal?.addEventListener(
        'abort',
        () => {
          this.sleepers = this.sleepers.filter((s) => s !== sleeper)
          reject(abortError(signal))
        },
        { once: true },
      )
      if (ms <= 0) this.wake()
    })
  }

  private wake(): void {
    const due = this.sleepers.filter((s) => s.until <= this.current)
    this.sleepers = this.sleepers.filter((s) => s.until > this.current)
    for (const s of due) s.resolve()
  }
}
