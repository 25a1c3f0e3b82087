import { createServer, type Server } from 'node:http'
import type { Registry } from 'prom-client'

export interface HealthState {
  /** Consecutive failed cycles. */
  failures: number
  lastSuccess: Date | null
  lastCycle: { at: Date; ok: boolean; ms: number; error: string | null } | null
  /** Each configured cluster's breaker, as the last successful cycle read it. */
  clusters: { name: string; breaker: 'closed' | 'open' | 'half_open'; openUntil: Date | null; lastError: string | null }[]
}

/**
 * The /healthz body. The status code is about the daemon's own ability to work: 503
 * ("failing") once `unhealthyAfter` cycles in a row failed (every cycle needs the
 * database); a GPU cluster down (its breaker open) is the cluster's trouble, not the
 * daemon's: 200 with status "degraded", and the breaker in the body.
 */
export function healthBody(state: HealthState, unhealthyAfter: number): { code: number; body: Record<string, unknown> } {
  const failing = state.failures >= unhealthyAfter
  const degraded = state.failures > 0 || state.clusters.some((c) => c.breaker !== 'closed')
  return {
    code: failing ? 503 : 200,
    body: {
      status: failing ? 'failing' : degraded ? 'degraded' : 'ok',
      consecutive_failures: state.failures,
      last_success: state.lastSuccess?.toISOString() ?? null,
      database: state.lastCycle ? { status: state.lastCycle.ok ? 'ok' : 'failing', error: state.lastCycle.error } : { status: 'unknown', error: null },
      last_cycle: state.lastCycle
        ? { at: state.lastCycle.at.toISOString(), ok: state.lastCycle.ok, duration_ms: state.lastCycle.ms, error: state.lastCycle.error }
        : null,
      clusters: state.clusters.map((c) => ({ name: c.name, breaker: c.breaker, open_until: c.openUntil?.toISOString() ?? null, last_error: c.lastError })),
    },
  }
}

export async function startDaemonServer(
  host: string,
  port: number,
  registry: Registry,
  health: () => HealthState,
  unhealthyAfter = 3,
): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0]
    if (path === '/healthz') {
      const { code, body } = healthBody(health(), unhealthyAfter)
      res.writeHead(code, { 'content-type': 'application/json' })
      res.end(JSON.stringify(body))
      return
    }
    if (path === '/metrics') {
      registry
        .metrics()
        .then((text) => {
          res.writeHead(200, { 'content-type': registry.contentType })
          res.end(text)
        })
        .catch((error: Error) => {
          res.writeHead(500)
          res.end(error.message)
        })
      return
    }
    res.writeHead(404, { 'content-type': 'text/plain' })
    res.end('not found: try /healthz or /metrics\n')
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve())
  })
  const address = server.address()
  const actualPort = typeof address === 'object' && address ? address.port : port
  return {
    url: `http://${host.includes(':') ? `[${host}]` : host}:${actualPort}`,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve())
      server.closeAllConnections()
    }),
  }
}
