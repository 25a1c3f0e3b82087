import { hostname } from 'node:os'
import { join } from 'node:path'
import type { Context } from '../context.js'
import { simulatorSpeed, type ClusterConfig } from '../config/schema.js'
import { UsageError } from '../errors.js'
import { pidAlive } from '../lockfile.js'
import { createClusterClient, type ClusterClient } from './client.js'
import { CircuitBreaker, type BreakerDecision } from './breaker.js'
import { localSimulator } from './simulated.js'

export interface ClusterHandle {
  config: ClusterConfig
  /** The URL actually used: a configured one, or the simulator's loopback address. */
  url: string
  client: ClusterClient
  breaker: CircuitBreaker
}

export interface ClusterSet {
  list: ClusterHandle[]
  get(name: string): ClusterHandle
  /**
   * The cluster to send new work to: the first one whose breaker lets a call through,
   * falling back along `fallback` when the primary's breaker is open.
   */
  choose(): Promise<{ handle: ClusterHandle; decision: BreakerDecision; fallbackFrom?: string } | { handle: null; reason: string }>
  close(): Promise<void>
}

/** Who this process is, to the breaker's probe. */
export function processIdentity(): string {
  return `${hostname()}:${process.pid}`
}

export async function openClusters(ctx: Context): Promise<ClusterSet> {
  const config = await ctx.config()
  if (config.clusters.length === 0) {
    throw new UsageError(`Profile ${config.profile} has no GPU cluster: set GPU_CLUSTER_API_URL.`, { code: 'no_cluster' })
  }
  const db = await ctx.db()
  const closers: (() => Promise<void>)[] = []
  const owner = processIdentity()
  const list: ClusterHandle[] = []
  for (const cluster of config.clusters) {
    let url = cluster.url
    if (url === 'simulator') {
      const shared = await localSimulator(config.stateDir)
      if (shared) url = shared.url
      else {
        // The embedded profile's cluster: the simulator, in this process, on loopback,
        // its jobs kept in a file so that the next `lora` sees the same cluster.
        const { startSimulator } = await import('./simulator.js')
        const sim = await startSimulator({ stateFile: join(config.stateDir, 'simulator.json'), speed: simulatorSpeed(config), clock: ctx.clock })
        closers.push(() => sim.close())
        url = sim.url
      }
    }
    // As many keep-alive connections as the daemon has calls in flight (its --concurrency).
    const client = createClusterClient({ ...cluster, url }, { clock: ctx.clock, connections: 64 })
    closers.push(() => client.close())
    list.push({ config: cluster, url, client, breaker: new CircuitBreaker(db, cluster.name, config.breaker, ctx.clock, owner) })
  }
  const byName = new Map(list.map((h) => [h.config.name, h]))
  const fallbackTargets = new Set(list.map((h) => h.config.fallback).filter(Boolean))

  return {
    list,
    get(name) {
      const handle = byName.get(name)
      if (!handle) {
        throw new UsageError(`No GPU cluster is named "${name}" (clusters: ${[...byName.keys()].join(', ')}).`, { code: 'unknown_cluster' })
      }
      return handle
    },
    async choose() {
      const primaries = list.filter((h) => !fallbackTargets.has(h.config.name))
      const reasons: string[] = []
      for (const primary of primaries.length ? primaries : list) {
        let current: ClusterHandle | undefined = primary
        const seen = new Set<string>()
        while (current && !seen.has(current.config.name)) {
          seen.add(current.config.name)
          const decision = await current.breaker.check()
          if (decision.allowed) {
            return current === primary ? { handle: current, decision } : { handle: current, decision, fallbackFrom: primary.config.name }
          }
          reasons.push(`cluster ${current.config.name}'s breaker is ${decision.state.replace('_', '-')}${decision.retryAt ? ` until ${decision.retryAt.toISOString()}` : ''}`)
          current = current.config.fallback ? byName.get(current.config.fallback) : undefined
        }
      }
      return { handle: null, reason: reasons.join('; ') }
    },
    async close() {
      for (const close of closers.reverse()) await close().catch(() => {})
    },
  }
}
