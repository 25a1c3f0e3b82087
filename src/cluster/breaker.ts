import type { Db } from '../db/types.js'
import type { Clock } from '../clock.js'
import type { BreakerConfig } from '../config/schema.js'
import { clearBreakerFailures, lockBreaker, readBreakers, writeBreaker, type BreakerRow, type BreakerState } from '../db/queries/breakers.js'

export interface BreakerDecision {
  allowed: boolean
  state: BreakerState
  /** This caller holds the one half-open probe: its next call decides. */
  probe: boolean
  /** When an open breaker lets a probe through. */
  retryAt?: Date
}

export interface BreakerTransition {
  from: BreakerState
  to: BreakerState
}

/**
 * The circuit breaker of one GPU cluster (seed 001): closed, open after `failures`
 * failures within `window`, half-open after `cooldown` with exactly one probe, closed
 * again when the probe succeeds. Its state is a row in the database, changed only
 * under a row lock, so every daemon and command sees and moves the same breaker.
 */
export class CircuitBreaker {
  constructor(
    private readonly db: Db,
    readonly cluster: string,
    private readonly config: BreakerConfig,
    private readonly clock: Clock,
    /** Who this process is, for the probe: a daemon id or `host:pid`. */
    private readonly owner: string,
    /** How long a probe may take before another process may probe instead. */
    private readonly probeTimeoutMs = 5 * 60_000,
  ) {}

  /** May a call go to the cluster now? Moves open to half-open when the cooldown is over. */
  async check(): Promise<BreakerDecision> {
    return this.db.transaction(async (tx) => {
      const row = await lockBreaker(tx, this.cluster)
      const now = this.clock.now()
      if (row.state === 'closed') return { allowed: true, state: 'closed', probe: false }
      if (row.state === 'open') {
        if (row.open_until && row.open_until.getTime() > now.getTime()) {
          return { allowed: false, state: 'open', probe: false, retryAt: row.open_until }
        }
        await writeBreaker(tx, this.cluster, { ...keep(row), state: 'half_open', probe_owner: this.owner, probe_expires_at: new Date(now.getTime() + this.probeTimeoutMs), transition: true }, now)
        return { allowed: true, state: 'half_open', probe: true }
      }
      // half_open: one probe at a time; a probe whose owner vanished may be taken over.
      if (row.probe_owner === this.owner) return { allowed: true, state: 'half_open', probe: true }
      if (!row.probe_expires_at || row.probe_expires_at.getTime() <= now.getTime()) {
        await writeBreaker(tx, this.cluster, { ...keep(row), probe_owner: this.owner, probe_expires_at: new Date(now.getTime() + this.probeTimeoutMs), transition: false }, now)
        return { allowed: true, state: 'half_open', probe: true }
      }
      return { allowed: false, state: 'half_open', probe: false, retryAt: row.probe_expires_at }
    })
  }

  /** A call succeeded: a half-open breaker closes; a closed one forgets its failures. */
  async recordSuccess(): Promise<BreakerTransition | null> {
    const now = this.clock.now()
    // Most successes find nothing to clear and write nothing.
    const [row] = await readBreakers(this.db, [this.cluster])
    if (!row || (row.state === 'closed' && row.failure_times.length === 0)) return null
    if (row.state === 'closed') {
      await clearBreakerFailures(this.db, this.cluster, now)
      return null
    }
    return this.db.transaction(async (tx) => {
      const locked = await lockBreaker(tx, this.cluster)
      if (locked.state !== 'half_open' || locked.probe_owner !== this.owner) return null
      await writeBreaker(tx, this.cluster, closedState(), now)
      return { from: 'half_open', to: 'closed' }
    })
  }

  /**
   * A call failed in a way that is the cluster's fault. Returns the transition when the
   * breaker opened (or re-opened after a failed probe), so the caller can alert.
   */
  async recordFailure(message: string): Promise<BreakerTransition | null> {
    return this.db.transaction(async (tx) => {
      const row = await lockBreaker(tx, this.cluster)
      const now = this.clock.now()
      const openUntil = new Date(now.getTime() + this.config.cooldownMs)
      if (row.state === 'half_open') {
        await writeBreaker(tx, this.cluster, { state: 'open', failure_times: [now], opened_at: now, open_until: openUntil, probe_owner: null, probe_expires_at: null, last_error: message, transition: true }, now)
        return { from: 'half_open', to: 'open' }
      }
      if (row.state === 'open') {
        await writeBreaker(tx, this.cluster, { ...keep(row), last_error: message, transition: false }, now)
        return null
      }
      const since = now.getTime() - this.config.windowMs
      const recent = [...row.failure_times.filter((t) => t.getTime() > since), now]
      if (recent.length >= this.config.failureThreshold) {
        await writeBreaker(tx, this.cluster, { state: 'open', failure_times: recent, opened_at: now, open_until: openUntil, probe_owner: null, probe_expires_at: null, last_error: message, transition: true }, now)
        return { from: 'closed', to: 'open' }
      }
      await writeBreaker(tx, this.cluster, { ...keep(row), failure_times: recent, last_error: message, transition: false }, now)
      return null
    })
  }

  /** On-call closes the breaker by hand. Returns the state it was in. */
  async reset(): Promise<BreakerState> {
    return this.db.transaction(async (tx) => {
      const row = await lockBreaker(tx, this.cluster)
      await writeBreaker(tx, this.cluster, { ...closedState(), transition: row.state !== 'closed' }, this.clock.now())
      return row.state
    })
  }

  async read(): Promise<BreakerRow | null> {
    const [row] = await readBreakers(this.db, [this.cluster])
    return row ?? null
  }
}

function keep(row: BreakerRow) {
  return {
    state: row.state,
    failure_times: row.failure_times,
    opened_at: row.opened_at,
    open_until: row.open_until,
    probe_owner: row.probe_owner,
    probe_expires_at: row.probe_expires_at,
    last_error: row.last_error,
  }
}

function closedState() {
  return { state: 'closed' as const, failure_times: [], opened_at: null, open_until: null, probe_owner: null, probe_expires_at: null, last_error: null, transition: true }
}
