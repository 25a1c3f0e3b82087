import { z } from 'zod'
import type { Context } from '../src/context.js'
import { ExitCode } from '../src/errors.js'
import { FORMATS, DATASET_JSON_HELP } from '../src/datasets/formats.js'
import { UPLOAD_BUCKETS } from '../src/datasets/upload.js'
import { dryRun, flag, json, optionsOf, show, userId } from '../src/flags.js'

export const flags = {
  name: flag('--name <name>', 'the dataset name (default: the file name)', z.string().trim().min(1, 'expected a name').max(200, 'must be at most 200 characters').optional()),
  user: flag('--user <uuid>', "the dataset's owner (or LORA_USER_ID; lora has no login)", userId.optional()),
  format: flag('--format <format>', 'chat | completion | instruction (default: detected from the first records)', z.enum(FORMATS, { error: (issue) => `expected one of ${FORMATS.join(', ')}, got ${show(issue.input)}` }).optional()),
  bucket: flag('--bucket <bucket>', 'lora-datasets | training-files', z.enum(UPLOAD_BUCKETS, { error: (issue) => `expected ${UPLOAD_BUCKETS.join(' or ')}, got ${show(issue.input)}` }), 'lora-datasets'),
  dryRun: { ...dryRun, description: 'validate and report only: no row, no upload' },
  force: flag('--force', 'upload again even when this user has the same content (sha256) already', z.boolean().default(false)),
  json,
}

export const Options = optionsOf(flags, { args: z.string().min(1, 'name the JSONL file to upload') })

export const help = `Formats, one JSON object per line:
  chat         {"messages": [{"role": "system"|"user"|"assistant", "content": "..."}, ...]}
               (an optional system message first, then user and assistant alternating,
               at least one assistant message)
  completion   {"prompt": "...", "completion": "..."}
  instruction  {"instruction": "...", "input": "..." (optional), "output": "..."}
An invalid file prints its problems with their line numbers (the first 20, then a
count) and exits 1, having uploaded nothing and written no row. A valid one prints
the dataset's id (alone when piped), or with --json
{"outcome": "uploaded"|"duplicate"|"dry_run"|"invalid", "dataset", "validation", "resumed_from"}.
Run an interrupted upload again to resume it. LORA_VALIDATE_THREADS sets the
validation's worker threads (0: none).

${DATASET_JSON_HELP}`
export const examples = [
  'lora datasets upload train.jsonl --user 6f1c2b9e-3a4d-4e5f-8a7b-9c0d1e2f3a4b',
  'lora datasets upload train.jsonl --user 6f1c2b9e-3a4d-4e5f-8a7b-9c0d1e2f3a4b --dry-run  # validate only',
  'lora datasets upload chats.jsonl --name support-v2 --format chat --json',
]

/** Validates, then uploads; exit 1 when the file is invalid (nothing uploaded, no row). */
export async function run(opts: z.infer<typeof Options>, ctx: Context): Promise<ExitCode> {
  const { uploadDataset } = await import('../src/datasets/upload.js')
  const { printValidationErrors, validationNotes, validationSummary } = await import('../src/datasets/report.js')
  const { datasetJson } = await import('../src/datasets/manage.js')
  const { printFields } = await import('../src/io/output.js')
  const { formatBytes } = await import('../src/datasets/progress.js')

  const { UploadInterruptedError } = await import('../src/datasets/upload.js')
  let result: Awaited<ReturnType<typeof uploadDataset>>
  try {
    result = await uploadDataset(ctx, {
      file: opts.args,
      ...(opts.name ? { name: opts.name } : {}),
      ...(opts.user ? { user: opts.user } : {}),
      ...(opts.format ? { format: opts.format } : {}),
      bucket: opts.bucket,
      dryRun: opts.dryRun,
      force: opts.force,
    })
  } catch (error) {
    // A script reading stdout learns where the upload stopped; the sentence goes to stderr.
    if (opts.json && error instanceof UploadInterruptedError) {
      ctx.io.json({
        outcome: 'interrupted',
        dataset_id: error.datasetId,
        offset: error.offset,
        file_size: error.size,
        ...(error.code === 'storage_timeout' ? { reason: 'storage_timeout' } : {}),
      })
    }
    throw error
  }
  const { validation } = result

  if (opts.json) {
    ctx.io.json({
      outcome: result.outcome,
      dataset: 'dataset' in result ? datasetJson(result.dataset) : null,
      validation,
      ...(result.outcome === 'uploaded' ? { resumed_from: result.resumed_from } : {}),
    })
    return result.outcome === 'invalid' ? ExitCode.failed : ExitCode.ok
  }
  if (result.outcome === 'invalid') {
    printValidationErrors(ctx.io, opts.args, validation)
    return ExitCode.failed
  }
  for (const note of validationNotes(validation)) ctx.io.err(`note: ${note}`)
  if (result.outcome === 'dry_run') {
    ctx.io.err(`${opts.args} is valid: ${validationSummary(validation)}.`)
    printFields(ctx.io, [
      ['format', validation.format],
      ['records', validation.records],
      ['training_pairs', validation.training_pairs],
      ['token_estimate', validation.token_estimate],
      ['file_size', validation.bytes],
      ['sha256', validation.sha256],
    ])
    const where = `${result.bucket}/${result.user ?? '<user>'}/<new id>/${result.file_name}`
    ctx.io.err(`dry run: nothing uploaded, no row written; it would go to ${where}`)
    return ExitCode.ok
  }
  const d = result.dataset
  if (result.outcome === 'duplicate') {
    ctx.io.err(`${opts.args} was uploaded already, as dataset ${d.name} (${d.id}) on ${d.created_at.toISOString()}: not uploaded again (--force does).`)
  } else if (result.resumed_from > 0) {
    ctx.io.err(`resumed the interrupted upload at ${formatBytes(result.resumed_from)} of ${formatBytes(validation.bytes)}.`)
  }
  if (!ctx.io.stdoutIsTTY) {
    // Piped: the id alone, for `id=$(lora datasets upload ...)`.
    ctx.io.out(d.id)
    return ExitCode.ok
  }
  printFields(ctx.io, [
    ['id', d.id],
    ['name', d.name],
    ['status', d.status],
    ['format', d.format],
    ['training pairs', d.total_training_pairs],
    ['tokens (est.)', d.total_tokens],
    ['size', d.file_size === null ? null : formatBytes(d.file_size)],
    ['sha256', d.sha256],
    ['object', `${d.storage_bucket}/${d.storage_path}`],
    ['validated at', d.validated_at],
  ])
  return ExitCode.ok
}
