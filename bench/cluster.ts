// The cluster client against the simulator: 10,000 status calls at concurrency 64
// with 50 ms of added latency, once per pool size (16 is the client's default). It prints figures, it asserts
// nothing: keep-alive shows as a connection count near the pool size rather than
// near the number of calls, and throughput near pool size / latency.
import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { systemClock } from '../src/clock.js'
import { createClusterClient, isClusterError } from '../src/cluster/client.js'
import { startSimulator } from '../src/cluster/simulator.js'

const CALLS = 10_000
const CONCURRENCY = 64
const LATENCY_MS = 50
const JOBS = 100
const POOL_SIZES = [16, 64]

interface Row {
  pool: number
  seconds: number
  callsPerSecond: number
  p50: number
  p99: number
  max: number
  errors: number
  connections: number
}

function percentile(sorted: number[], share: number): number {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.ceil(share * sorted.length) - 1)]!
}

async function run(pool: number): Promise<Row> {
  const sim = await startSimulator({ latencyMs: LATENCY_MS, speed: 60, seed: 1 })
  const client = createClusterClient(
    { name: 'bench', url: sim.url, connectTimeoutMs: 5_000, requestTimeoutMs: 30_000 },
    { clock: systemClock, connections: pool },
  )
  try {
    const ids = await Promise.all(
      Array.from({ length: JOBS }, async () => {
        const job = await client.submit({
          job_id: randomUUID(),
          dataset_url: 'https://storage.example.com/lora-datasets/bench.jsonl',
          hyperparameters: { num_epochs: 3 },
          gpu_config: { gpu_type: 'A100-80GB', num_gpus: 1 },
        })
        return job.external_job_id
      }),
    )
    const latencies: number[] = []
    let errors = 0
    let next = 0
    const started = performance.now()
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < CALLS) {
          const id = ids[next++ % ids.length]!
          const t0 = performance.now()
          try {
            await client.status(id)
            latencies.push(performance.now() - t0)
          } catch (error) {
            if (!isClusterError(error)) throw error
            errors += 1
          }
        }
      }),
    )
    const seconds = (performance.now() - started) / 1000
    latencies.sort((a, b) => a - b)
    return {
      pool,
      seconds,
      callsPerSecond: CALLS / seconds,
      p50: percentile(latencies, 0.5),
      p99: percentile(latencies, 0.99),
      max: latencies.at(-1) ?? Number.NaN,
      errors,
      connections: sim.connections(),
    }
  } finally {
    await client.close()
    await sim.close()
  }
}

function table(rows: Row[]): string {
  const header = ['pool size', 'seconds', 'calls/s', 'ideal calls/s', 'p50 ms', 'p99 ms', 'max ms', 'errors', 'TCP connections']
  const lines = rows.map((r) => [
    String(r.pool),
    r.seconds.toFixed(2),
    r.callsPerSecond.toFixed(0),
    ((Math.min(r.pool, CONCURRENCY) * 1000) / LATENCY_MS).toFixed(0),
    r.p50.toFixed(1),
    r.p99.toFixed(1),
    r.max.toFixed(1),
    String(r.errors),
    String(r.connections),
  ])
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)))
  const format = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ')
  return [format(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(format)].join('\n')
}

const rows: Row[] = []
for (const pool of POOL_SIZES) rows.push(await run(pool))
process.stdout.write(
  `GPU cluster client: ${CALLS} status calls, concurrency ${CONCURRENCY}, simulator latency ${LATENCY_MS} ms, Node ${process.version}\n\n`,
)
process.stdout.write(`${table(rows)}\n\n`)
process.stdout.write('ideal calls/s = min(pool, concurrency) / latency; "TCP connections" counts all the simulator accepted, setup included.\n')
