import { z } from 'zod'
import type { Context } from '../src/context.js'
import { flags as daemonFlags } from './daemon.js'
import { ExitCode } from '../src/errors.js'
import { boundedNumber, flag, optionsOf } from '../src/flags.js'

export const flags = {
  // At least 1x: slower than real time, the tour would not end.
  speed: flag('--speed <x>', 'simulated training time per real time', boundedNumber({ min: 1, max: 100_000 }), '150'),
  keep: flag('--keep', 'run in ./lora-demo and keep it afterwards (default: a temporary folder, removed)', z.boolean().default(false)),
  // The demo's daemon cycles, and its watch refreshes, at the daemon's own flag schema.
  interval: { ...daemonFlags.interval, description: "the demo daemon's cycle and the watch's refresh", default: '1s' },
}

export const Options = optionsOf(flags)

export const help = 'Every screen is a real lora command, run against a real embedded database, storage folder and GPU cluster simulator, with a daemon processing the jobs.'
export const examples = [
  'lora demo',
  'lora demo --keep --speed 300',
]

export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<ExitCode> {
  const { runDemo } = await import('../src/demo/run.js')
  return runDemo(ctx, { speed: opts.speed, keep: opts.keep, intervalMs: opts.interval })
}
