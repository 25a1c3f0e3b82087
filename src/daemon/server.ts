import { createServer, type Server } from 'node:http'
import type { Registry } from 'prom-client'

export interface HealthState {
  /** Consecutive failed cycles. */
  failures: number
  lastSuccess: Date | null
}

/**
 * /healthz (200 while cycles succeed, 503 after `unhealthyAfter` failed cycles in a
 * row) and /metrics (Prometheus text) for the daemon's --listen.
 */
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
      const state = health()
      const ok = state.failures < unhealthyAfter
      res.writeHead(ok ? 200 : 503, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ status: ok ? 'ok' : 'failing', consecutive_failures: state.failures, last_success: state.lastSuccess?.toISOString() ?? null }))
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
