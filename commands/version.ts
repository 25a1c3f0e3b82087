import { z } from 'zod'
import type { Context } from '../src/context.js'
import { type ExitCode, finished } from '../src/errors.js'
import { json, optionsOf } from '../src/flags.js'

export const flags = { json }

export const Options = optionsOf(flags)

export const help = `The applied schema version is read only from a database that answers within a second (a running local
service on the embedded profile); otherwise it says "unknown". \`lora -v\` and \`lora --version\` print the version alone.
--json prints {"version", "node", "platform", "schema": {"bundled", "applied"}} (applied: null when unknown).`
export const examples = [
  'lora version',
  'lora version --json',
]

/** How long the applied schema version may take to read: `lora version` answers at once, with "unknown" if need be. */
const DATABASE_WAIT_MS = 1_000

/** `lora version`: the version, Node, the platform, and the schema versions bundled and applied. */
export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<ExitCode> {
  const { LATEST_VERSION } = await import('../src/db/migrate.js')
  const { readQuickly } = await import('../src/db/quick.js')
  const applied = await readQuickly(ctx, DATABASE_WAIT_MS, async (db) => {
    const { readApplied } = await import('../src/db/migrate.js')
    const versions = ((await readApplied(db)) ?? []).map((m) => m.version)
    return versions.length ? Math.max(...versions) : 0
  })
  const info = {
    version: LORA_VERSION,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    schema: { bundled: LATEST_VERSION, applied },
  }
  if (opts.json) {
    ctx.io.json(info)
    return finished(ctx.signal)
  }
  const { printFields } = await import('../src/io/output.js')
  printFields(ctx.io, [
    ['version', info.version],
    ['node', info.node],
    ['platform', info.platform],
    ['schema_bundled', info.schema.bundled],
    ['schema_applied', applied ?? 'unknown'],
  ])
  return finished(ctx.signal)
}
