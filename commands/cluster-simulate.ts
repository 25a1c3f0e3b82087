import { z } from 'zod'
import { join } from 'node:path'
import type { Context } from '../src/context.js'
import { ExitCode } from '../src/errors.js'
import { boundedNumber, flag, json, optionsOf, simulatorSpeed } from '../src/flags.js'

/** A share of calls or jobs, 0 to 1. */
const rate = boundedNumber({ min: 0, max: 1 })

export const flags = {
  port: flag('--port <n>', 'port (0 picks a free one)', boundedNumber({ min: 0, max: 65_535, integer: true }), '0'),
  host: flag('--host <addr>', 'loopback address to listen on', z.enum(['127.0.0.1', '::1', 'localhost'], { error: 'the simulator listens on loopback only: 127.0.0.1, ::1 or localhost' }), '127.0.0.1'),
  speed: flag('--speed <x>', 'simulated time per real time (60: an hour of training per minute)', simulatorSpeed, '1'),
  seed: flag('--seed <n>', 'seed of the loss noise and of the faults', z.coerce.number().int(), '1'),
  failRate: flag('--fail-rate <r>', 'share of API calls answered 503', rate, '0'),
  latency: flag('--latency <ms>', 'delay added to every API call', boundedNumber({ min: 0 }), '0'),
  malformedRate: flag('--malformed-rate <r>', 'share of answers that break the contract', rate, '0'),
  hangRate: flag('--hang-rate <r>', 'share of calls never answered', rate, '0'),
  jobFailRate: flag('--job-fail-rate <r>', 'share of jobs that end failed', rate, '0'),
  neverFinishRate: flag('--never-finish-rate <r>', 'share of jobs that never finish', rate, '0'),
  apiKey: flag('--api-key <key>', 'require this Bearer key', z.string().optional()),
  state: flag('--state <file>', 'where jobs persist (default .lora/simulator.json)', z.string().optional()),
  json,
}

export const Options = optionsOf(flags)

export const examples = [
  'lora cluster simulate --port 8089 --speed 60',
  'lora cluster simulate --fail-rate 0.2 --latency 300  # a flaky cluster',
]

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
