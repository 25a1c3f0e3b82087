import { z } from 'zod'
import type { Context } from '../src/context.js'
import { completionScript, SHELLS } from '../src/completion.js'
import { type ExitCode, finished } from '../src/errors.js'
import { flag, optionsOf } from '../src/flags.js'

export const flags = {
  complete: flag('--complete', 'what the scripts call: the candidates after the words given (after --)', z.boolean().default(false)),
}

export const Options = optionsOf(flags, { args: z.array(z.string()).default([]) }).superRefine((o, ctx) => {
  if (o.complete) return
  if (o.args.length !== 1 || !(SHELLS as readonly string[]).includes(o.args[0]!)) {
    ctx.addIssue({ code: 'custom', path: ['args'], message: `the shell must be one of ${SHELLS.join(', ')}` })
  }
})

export const help = `bash: source <(lora completion bash)
zsh:  source <(lora completion zsh)
fish: lora completion fish | source
Completes commands and flags (skipping flag values and arguments), file names for
\`datasets upload\`, and job and dataset ids from the database when it answers
within 300 ms (on the embedded profile: when its local service runs).`
export const examples = [
  'source <(lora completion bash)  # in ~/.bashrc',
  'lora completion fish | source',
]

/** Ids are offered only when the database answers this fast: a slow TAB is worse than none. */
const IDS_WITHIN_MS = 300
const IDS_SHOWN = 50

export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<ExitCode> {
  if (!opts.complete) {
    ctx.io.stdout.write(completionScript(opts.args[0] as (typeof SHELLS)[number]))
    return finished(ctx.signal)
  }
  const { complete, FILES } = await import('../src/completion.js')
  const next = await complete(opts.args)
  if ('words' in next) {
    for (const word of next.words) ctx.io.out(word)
  } else if ('files' in next) {
    ctx.io.out(FILES)
  } else {
    const { readQuickly } = await import('../src/db/quick.js')
    const { listRecentJobIds, listRecentDatasetIds } = await import('../src/db/queries/ids.js')
    const ids = await readQuickly(ctx, IDS_WITHIN_MS, (db) => (next.ids === 'jobs' ? listRecentJobIds(db, IDS_SHOWN) : listRecentDatasetIds(db, IDS_SHOWN)))
    for (const id of ids ?? []) if (id.startsWith(next.prefix.toLowerCase())) ctx.io.out(id)
  }
  return finished(ctx.signal)
}

