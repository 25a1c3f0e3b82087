import { z } from 'zod'
import type { Context } from '../src/context.js'
import { ExitCode } from '../src/errors.js'
import { resolveJobId } from '../src/ids.js'
import { interval, jobRef, json, optionsOf } from '../src/flags.js'

export const flags = {
  interval: { ...interval, description: 'poll interval (NOTIFY wakes it sooner)' },
  json,
}

export const Options = optionsOf(flags, { args: jobRef })

export const help = `A live view on a terminal; one tab-separated line per change when piped; one JSON
object per change with --json. Exit 0 when the job completes, 1 when it fails or is
cancelled, 130 on Ctrl-C (the job keeps running).`
export const examples = [
  'lora jobs watch bfc44f88',
  'lora jobs watch bfc44f88 --interval 5s --json',
]

/** Exit code by the job's end: 0 completed, 1 failed or cancelled, 130 when Ctrl-C stops the watch. */
export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<ExitCode> {
  const { watchJob } = await import('../src/jobs/watch.js')
  return watchJob(ctx, await resolveJobId(await ctx.db(), opts.args), { intervalMs: opts.interval, json: opts.json })
}
