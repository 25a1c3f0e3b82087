import type { Clock } from '../clock.js'
import type { Db } from '../db/types.js'
import type { Log } from '../log.js'
import { keepAlive } from '../db/queries/heartbeats.js'

/** The longest a daemon goes without a sign of life: others call it dead after three (at least 15 s). */
export const MAX_BEAT_INTERVAL_MS = 5_000

/** How often a daemon beats: every 5 s, or faster when its cycles or its lease are shorter. */
export function beatIntervalMs(cycleIntervalMs: number, leaseMs: number): number {
  return Math.max(100, Math.min(MAX_BEAT_INTERVAL_MS, cycleIntervalMs, Math.floor(leaseMs / 3)))
}

export interface KeeperOptions {
  db: Db
  daemonId: string
  host: string
  pid: number
  version: string
  cycleIntervalMs: number
  leaseMs: number
  /**
   * Beats are compared with the database's clock by the other daemons, so they run on
   * real time even when the cycles run on a test's fake clock.
   */
  clock: Clock
  log: Log
}

export interface Keeper {
  readonly intervalMs: number
  stop(): Promise<void>
}

/**
 * Keeps a daemon visibly alive whatever its cycle is doing: a slow submit (4 x 30 s
 * timeouts and 3 x 60 s of Retry-After), jobs queued behind --concurrency, a long
 * artifact copy. Every beat writes the heartbeat and renews the leases of the jobs
 * the daemon holds, so they are neither given back while calls for them are in flight
 * nor left waiting out a lease when the daemon is killed: its beats stop, and the
 * others take its jobs over within three beats.
 */
export async function startKeeper(options: KeeperOptions): Promise<Keeper> {
  const intervalMs = beatIntervalMs(options.cycleIntervalMs, options.leaseMs)
  const abort = new AbortController()
  const beat = async () => {
    try {
      await keepAlive(options.db, {
        daemonId: options.daemonId,
        host: options.host,
        pid: options.pid,
        version: options.version,
        intervalMs,
        leaseMs: options.leaseMs,
      })
    } catch (error) {
      // A database outage: the cycle reports it; leases last until the next beat gets through.
      options.log.warn('could not write the heartbeat', { error: (error as Error).message })
    }
  }
  await beat()
  const loop = (async () => {
    while (!abort.signal.aborted) {
      try {
        await options.clock.sleep(intervalMs, abort.signal)
      } catch {
        return
      }
      await beat()
    }
  })()
  return {
    intervalMs,
    async stop() {
      abort.abort()
      await loop
    },
  }
}
