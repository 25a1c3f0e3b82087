import type { Context } from '../context.js'
import { isClusterError } from './client.js'
import { redact } from '../redact.js'

export interface ClusterStatus {
  name: string
  url: string
  reachable: boolean
  latency_ms: number | null
  error: string | null
  breaker: {
    state: 'closed' | 'open' | 'half_open'
    recent_failures: number
    open_until: string | null
    last_error: string | null
  }
  fallback: string | null
}

/** Each cluster's reachability (one ping, no retries), latency and breaker, concurrently. */
export async function clusterStatuses(ctx: Context): Promise<ClusterStatus[]> {
  const set = await ctx.clusters()
  const config = await ctx.config()
  const now = ctx.clock.now().getTime()
  return Promise.all(
    set.list.map(async (handle): Promise<ClusterStatus> => {
      let reachable = false
      let latency: number | null = null
      let error: string | null = null
      try {
        latency = Math.round(await handle.client.ping({ signal: ctx.signal }))
        reachable = true
      } catch (e) {
        error = isClusterError(e) ? e.message : (e as Error).message
      }
      const row = await handle.breaker.read()
      const since = now - config.breaker.windowMs
      return {
        name: handle.config.name,
        url: redact(handle.config.url === 'simulator' ? `simulator (${handle.url})` : handle.config.url),
        reachable,
        latency_ms: latency,
        error,
        breaker: {
          state: row?.state ?? 'closed',
          recent_failures: row?.failure_times.filter((t) => t.getTime() > since).length ?? 0,
          open_until: row?.state === 'open' && row.open_until ? row.open_until.toISOString() : null,
          last_error: row?.last_error ?? null,
        },
        fallback: handle.config.fallback ?? null,
      }
    }),
  )
}
