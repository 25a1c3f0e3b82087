import { z } from 'zod'
import { join } from 'node:path'
import type { Context } from '../src/context.js'
import { ExitCode } from '../src/errors.js'
import { simulatorSpeedFlag } from '../src/jobs/options.js'

const rate = (name: string) =>
  z.coerce.number({ error: `${name} must be a number between 0 and 1` }).min(0, `${name} must be between 0 and 1`).max(1, `${name} must be between 0 and 1`).default(0)

export const Options = z.object({
  port: z.coerce.number().int().min(0).max(65535, 'must be a port number, 0 to 65535').default(0),
  host: z.enum(['127.0.0.1', '::1', 'localhost'], { error: 'the simulator listens on loopback only: 127.0.0.1, ::1 or localhost' }).default('127.0.0.1'),
  speed: simulatorSpeedFlag.default(1),
  seed: z.coerce.number().int().default(1),
  failRate: rate('--fail-rate'),
  latency: z.coerce.number().min(0, 'must be 0 or more').default(0),
  malformedRate: rate('--malformed-rate'),
  hangRate: rate('--hang-rate'),
  jobFailRate: rate('--job-fail-rate'),
  neverFinishRate: rate('--never-finish-rate'),
  apiKey: z.string().optional(),
  state: z.string().optional(),
  json: z.boolean(),
})

/** Runs the simulator in the foreground until Ctrl-C. */
export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<ExitCode> {
  const { startSimulator } = await import('../src/cluster/simulator.js')
  const stateFile = opts.state ?? join(ctx.cwd, '.lora', 'simulator.json')
  const sim = await startSimulator({
    port: opts.port,
    host: opts.host,
    speed: opts.speed,
    seed: opts.seed,
    failRate: opts.failRate,
    latencyMs: opts.latency,
    malformedRate: opts.malformedRate,
    hangRate: opts.hangRate,
    jobFailRate: opts.jobFailRate,
    neverFinishRate: opts.neverFinishRate,
    stateFile,
    clock: ctx.clock,
    ...(opts.apiKey ? { apiKey: opts.apiKey } : {}),
  })
  if (opts.json) ctx.io.jsonLine({ url: sim.url, port: sim.port, state_file: stateFile })
  else {
    ctx.io.out(sim.url)
    ctx.io.err(`GPU cluster simulator on ${sim.url} (speed x${opts.speed}, state in ${stateFile})`)
    ctx.io.err(`use it with GPU_CLUSTER_API_URL=${sim.url}; Ctrl-C stops it`)
  }
  await new Promise<void>((resolve) => {
    if (ctx.signal.aborted) return resolve()
    ctx.signal.addEventListener('abort', () => resolve(), { once: true })
  })
  await sim.close()
  return ExitCode.ok
}
