import { z } from 'zod'
import type { Context } from '../src/context.js'
import { type ExitCode, finished } from '../src/errors.js'
import type { StyleName } from '../src/io/style.js'
import { boundedNumber, flag, json, optionsOf, show, userId } from '../src/flags.js'
import { DATASET_JSON_HELP } from '../src/datasets/formats.js'

const STATUSES = ['uploading', 'validating', 'ready', 'failed'] as const

export const flags = {
  user: flag('--user <uuid>', "only this user's datasets", userId.optional()),
  status: flag('--status <status>', 'uploading | validating | ready | failed', z.enum(STATUSES, { error: (issue) => `expected one of ${STATUSES.join(', ')}, got ${show(issue.input)}` }).optional()),
  deleted: flag('--deleted', 'include deleted datasets', z.boolean().default(false)),
  limit: flag('--limit <n>', 'at most this many', boundedNumber({ min: 1, max: 10_000, integer: true }), '100'),
  json,
}

export const Options = optionsOf(flags)

export const help = `--json prints {"datasets": [dataset, ...]}.

${DATASET_JSON_HELP}`
export const examples = [
  'lora datasets list',
  'lora datasets list --status ready --limit 20',
  'lora --wide datasets list --user 6f1c2b9e-3a4d-4e5f-8a7b-9c0d1e2f3a4b',
]

export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<ExitCode> {
  const { listDatasetRows, datasetJson } = await import('../src/datasets/manage.js')
  const { printTable } = await import('../src/io/output.js')
  const { formatBytes } = await import('../src/datasets/progress.js')
  const rows = await listDatasetRows(ctx, {
    ...(opts.user ? { userId: opts.user.toLowerCase() } : {}),
    ...(opts.status ? { status: opts.status } : {}),
    includeDeleted: opts.deleted,
    limit: opts.limit,
  })
  if (opts.json) {
    ctx.io.json({ datasets: rows.map(datasetJson) })
    return finished(ctx.signal)
  }
  const { age } = await import('../src/jobs/format.js')
  const tty = ctx.io.stdoutIsTTY
  const now = ctx.clock.now()
  const style = ctx.io.style
  const statusStyle: Record<string, StyleName> = { ready: 'ok', failed: 'fail', uploading: 'warn', validating: 'warn' }
  await printTable(
    ctx.io,
    [
      { header: 'ID', value: (d) => d.id, id: true },
      { header: 'Name', value: (d) => d.name },
      { header: 'User', value: (d) => d.user_id, id: true, detail: true },
      { header: 'Status', value: (d) => (d.deleted_at ? 'deleted' : d.status), color: (d, t) => (d.deleted_at ? style.muted(t) : statusStyle[d.status] ? style[statusStyle[d.status]!](t) : t) },
      { header: 'Format', value: (d) => d.format, detail: true },
      { header: 'Pairs', value: (d) => d.total_training_pairs, align: 'right' },
      { header: 'Tokens', value: (d) => d.total_tokens, align: 'right', detail: true },
      { header: 'Size', value: (d) => (d.file_size === null ? null : ctx.io.stdoutIsTTY ? formatBytes(d.file_size) : d.file_size), align: 'right' },
      { header: 'Bucket', value: (d) => d.storage_bucket, detail: true },
      tty ? { header: 'Age', value: (d) => age(d.created_at, now), align: 'right' } : { header: 'Created', value: (d) => d.created_at },
    ],
    rows,
    { empty: '(no datasets)' },
  )
  if (rows.length === opts.limit) ctx.io.err(`showing the newest ${opts.limit}: --limit shows more`)
  return finished(ctx.signal)
}
