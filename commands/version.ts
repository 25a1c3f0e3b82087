import { z } from 'zod'
import type { Context } from '../src/context.js'

export const Options = z.object({ json: z.boolean().default(false) })

/** How long the applied schema version may take to read: `lora version` answers at once, with "unknown" if need be. */
const DATABASE_WAIT_MS = 1_000

/**
 * The highest migration applied, when a database answers quickly: never starts the
 * embedded stack's service (nor creates one), and never fails the command.
 */
async function appliedSchema(ctx: Context): Promise<number | null> {
  try {
    const config = await ctx.config()
    if (config.embedded) {
      if (config.stackFound === false) return null
      const { localStatus } = await import('../src/local.js')
      if (!(await localStatus(config)).running) return null
    }
    const read = (async () => {
      const { readApplied } = await import('../src/db/migrate.js')
      const applied = (await readApplied(await ctx.rawDb())) ?? []
      return applied.length ? Math.max(...applied.map((m) => m.version)) : 0
    })()
    read.catch(() => {})
    const timeout = new AbortController()
    const late = ctx.clock.sleep(DATABASE_WAIT_MS, timeout.signal).then(() => null, () => null)
    const version = await Promise.race([read, late])
    timeout.abort()
    return version
  } catch {
    return null
  }
}

/** `lora version`: the version, Node, the platform, and the schema versions bundled and applied. */
export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<void> {
  const { LATEST_VERSION } = await import('../src/db/migrate.js')
  const applied = await appliedSchema(ctx)
  const info = {
    version: LORA_VERSION,
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
    schema: { bundled: LATEST_VERSION, applied },
  }
  if (opts.json) return ctx.io.json(info)
  const { printFields } = await import('../src/io/output.js')
  printFields(ctx.io, [
    ['version', info.version],
    ['node', info.node],
    ['platform', info.platform],
    ['schema_bundled', info.schema.bundled],
    ['schema_applied', applied ?? 'unknown'],
  ])
}
