import { FakeClock } from '../../src/clock.js'

/**
 * A fake clock whose sleeps return at once, moving time forward by what was asked:
 * retries and backoff run instantly, and time still passes as they say.
 */
export class InstantClock extends FakeClock {
  override sleep(ms: number, signal?: AbortSignal): Promise<void> {
    this.sleeps.push(ms)
    if (signal?.aborted) return Promise.reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'))
    this.advance(Math.max(0, ms))
    return Promise.resolve()
  }
}
