import { z } from 'zod'
import type { Context } from '../src/context.js'
import type { ExitCode } from '../src/errors.js'
import { resolveJobId } from '../src/ids.js'
import { boundedNumber, flag, interval, jobRef, json, optionsOf } from '../src/flags.js'

export const flags = {
  follow: flag('--follow', 'keep printing new lines until the job ends, and exit by its end', z.boolean().default(false)),
  tail: flag('--tail <n>', 'only the last n lines (then, with --follow, every new one)', boundedNumber({ min: 1, max: 100_000, integer: true }).optional()),
  interval: { ...interval, description: 'with --follow: poll interval' },
  json,
}

export const Options = optionsOf(flags, { args: jobRef })

export const help = `One line per log line: "TIME  TEXT" on a terminal, TIME<tab>TEXT when piped, one JSON
object {"ts", "text"} per line with --json. Exit 0; with --follow, by the job's end as
\`jobs watch\`: 0 completed, 1 failed or cancelled, 130 on Ctrl-C (the job keeps running).
Exit 1 when the cluster has no logs endpoint (it is optional in the cluster contract).`
export const examples = [
  'lora jobs logs bfc44f88 --tail 50',
  'lora jobs logs bfc44f88 --follow',
  'lora jobs logs bfc44f88 --json',
]

/** Exit 0; with --follow, by the job's end as `jobs watch`: 0 completed, 1 failed or cancelled, 130 on Ctrl-C. */
export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<ExitCode> {
  const { printJobLogs } = await import('../src/jobs/logs.js')
  return printJobLogs(ctx, await resolveJobId(await ctx.db(), opts.args), { follow: opts.follow, tail: opts.tail ?? null, json: opts.json, intervalMs: opts.interval })
}
