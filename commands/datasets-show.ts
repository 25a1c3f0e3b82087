import { z } from 'zod'
import type { Context } from '../src/context.js'
import { ExitCode } from '../src/errors.js'
import { datasetRef, json, optionsOf } from '../src/flags.js'
import { DATASET_JSON_HELP } from '../src/datasets/formats.js'

export const flags = { json }

export const Options = optionsOf(flags, { args: datasetRef })

export const help = `--json prints {"dataset", "jobs": {"total", "active"}, "object": {"exists", "size"}}.

${DATASET_JSON_HELP}`
export const examples = [
  'lora datasets show bfc44f88  # an id prefix',
  'lora datasets show support-chats --json  # or a name',
]

export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<ExitCode> {
  const { showDataset, datasetJson } = await import('../src/datasets/manage.js')
  const { printFields } = await import('../src/io/output.js')
  const { formatBytes } = await import('../src/datasets/progress.js')
  const { resolveDatasetId } = await import('../src/ids.js')
  const detail = await showDataset(ctx, await resolveDatasetId(await ctx.db(), opts.args))
  const { dataset: d, jobs, object } = detail
  if (opts.json) {
    ctx.io.json({ dataset: datasetJson(d), jobs, object })
    return ExitCode.ok
  }
  const objectText =
    object.exists === null ? `not checked (${object.error})` : object.exists ? `present, ${object.size} bytes` : 'MISSING from storage'
  printFields(ctx.io, [
    ['id', d.id],
    ['name', d.name],
    ['user', d.user_id],
    ['status', d.deleted_at ? `deleted (was ${d.status})` : d.status],
    ['format', d.format],
    ['training pairs', d.total_training_pairs],
    ['tokens (est.)', d.total_tokens],
    ['size', d.file_size === null ? null : ctx.io.stdoutIsTTY ? `${formatBytes(d.file_size)} (${d.file_size} bytes)` : d.file_size],
    ['sha256', d.sha256],
    ['object', `${d.storage_bucket}/${d.storage_path}`],
    ['object check', objectText],
    ['training ready', d.training_ready],
    ['error', d.error_message],
    ['jobs', `${jobs.total} (${jobs.active} unfinished)`],
    ['created at', d.created_at],
    ['validated at', d.validated_at],
    ['updated at', d.updated_at],
    ['deleted at', d.deleted_at],
  ])
  // A live, ready row whose object is gone is exactly what must never pass silently.
  if (!d.deleted_at && d.status === 'ready' && object.exists === false) {
    ctx.io.warn(`dataset ${d.id} is ready but its object ${d.storage_bucket}/${d.storage_path} is missing from storage: jobs on it will fail.`)
  }
  if (object.exists === null) ctx.io.warn(`could not check the object in storage: ${object.error}`)
  return ExitCode.ok
}
