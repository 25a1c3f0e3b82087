import { z } from 'zod'
import type { Context } from '../src/context.js'
import { describeConfig } from '../src/config/describe.js'
import { printTable } from '../src/io/output.js'
import { type ExitCode, finished } from '../src/errors.js'
import { json, optionsOf } from '../src/flags.js'

export const flags = { json }

export const Options = optionsOf(flags)

export const examples = [
  'lora config show',
  'lora --profile prod config show --json',
]

export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<ExitCode> {
  const loaded = await ctx.loadConfig()
  const report = describeConfig(loaded)
  if (opts.json) {
    ctx.io.json(report)
    return finished(ctx.signal)
  }
  ctx.io.err(`profile ${report.profile}${report.embedded ? ' (embedded)' : ''}; files: ${report.files.length ? report.files.join(', ') : 'none'}`)
  await printTable(ctx.io, [
    { header: 'Key', value: (r) => r.key },
    { header: 'Value', value: (r) => r.value },
    { header: 'Source', value: (r) => r.source },
  ], report.values)
  return finished(ctx.signal)
}
