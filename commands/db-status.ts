import { z } from 'zod'
import type { Context } from '../src/context.js'
import { schemaStatus, MIGRATIONS } from '../src/db/migrate.js'
import { printTable } from '../src/io/output.js'
import { ExitCode } from '../src/errors.js'
import { json, optionsOf } from '../src/flags.js'

export const flags = { json }

export const Options = optionsOf(flags)

export const examples = [
  'lora db status',
  'lora db status --json',
]

/** Exit 0 when the schema is current, 1 when migrations are pending or it has drifted. */
export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<ExitCode> {
  const db = await ctx.rawDb()
  const status = await schemaStatus(db)
  const code = status.current && status.changed.length === 0 ? ExitCode.ok : ExitCode.failed
  if (opts.json) {
    ctx.io.json({
      current: status.current,
      applied: status.applied.map((m) => ({ version: m.version, name: m.name, applied_at: m.appliedAt })),
      pending: status.pending.map((m) => ({ version: m.version, name: m.name })),
      changed: status.changed,
      unknown: status.unknown,
      drift: status.drift,
    })
    return code
  }
  const applied = new Map(status.applied.map((m) => [m.version, m]))
  await printTable(ctx.io, [
    { header: 'Version', value: (m) => m.version, align: 'right' },
    { header: 'Name', value: (m) => m.name },
    { header: 'Applied at', value: (m) => applied.get(m.version)?.appliedAt ?? 'pending' },
  ], MIGRATIONS.slice())
  // With nothing applied, every table is missing: one line says it better than fourteen.
  const drift = status.applied.length === 0 ? [] : status.drift
  for (const d of drift) {
    const what =
      d.problem === 'missing_table'
        ? `table ${d.table} is missing`
        : d.problem === 'missing_column'
          ? `column ${d.table}.${d.column} is missing (expected ${d.expected})`
          : `column ${d.table}.${d.column} is ${d.actual}, expected ${d.expected}`
    ctx.io.err(`drift: ${what}`)
  }
  for (const c of status.changed) ctx.io.err(`drift: migration ${c.version} (${c.name}) was applied from a different text`)
  for (const v of status.unknown) ctx.io.err(`note: migration ${v} is applied but unknown to this lora (a newer version migrated this database)`)
  if (status.applied.length === 0) ctx.io.err('the database has no lora schema yet: run `lora db migrate`')
  else if (status.pending.length > 0) ctx.io.err(`${status.pending.length} migration(s) pending: run \`lora db migrate\``)
  else if (status.drift.length > 0) ctx.io.err('the schema has drifted from what lora needs: see above')
  else ctx.io.err('schema is current')
  return code
}
