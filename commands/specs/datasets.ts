import type { CommandSpec } from '../registry.js'
import { dryRun, json, yes } from './common.js'

const DATASET_JSON = `A dataset in --json has the columns of the datasets table: id, user_id, name, format,
status, storage_bucket, storage_path, file_size, sha256, total_training_pairs,
total_tokens, training_ready, error_message, validated_at, created_at, updated_at,
deleted_at.`

export const DATASETS: CommandSpec[] = [
  {
    path: ['datasets', 'upload'],
    summary: 'validate a JSONL dataset, then upload it (resumable) and record it',
    args: '<file>',
    options: [
      { flags: '--name <name>', description: 'the dataset name (default: the file name)' },
      { flags: '--user <uuid>', description: "the dataset's owner (or LORA_USER_ID; lora has no login)" },
      { flags: '--format <format>', description: 'chat | completion | instruction (default: detected from the first records)' },
      { flags: '--bucket <bucket>', description: 'lora-datasets | training-files', default: 'lora-datasets' },
      { ...dryRun, description: 'validate and report only: no row, no upload' },
      { flags: '--force', description: 'upload again even when this user has the same content (sha256) already' },
      json,
    ],
    help: `Formats, one JSON object per line:
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

${DATASET_JSON}`,
    examples: [
      'lora datasets upload train.jsonl --user 6f1c2b9e-3a4d-4e5f-8a7b-9c0d1e2f3a4b',
      'lora datasets upload train.jsonl --user 6f1c2b9e-3a4d-4e5f-8a7b-9c0d1e2f3a4b --dry-run  # validate only',
      'lora datasets upload chats.jsonl --name support-v2 --format chat --json',
    ],
    load: () => import('../datasets-upload.js'),
  },
  {
    path: ['datasets', 'list'],
    summary: 'list datasets, newest first',
    options: [
      { flags: '--user <uuid>', description: "only this user's datasets" },
      { flags: '--status <status>', description: 'uploading | validating | ready | failed' },
      { flags: '--deleted', description: 'include deleted datasets' },
      { flags: '--limit <n>', description: 'at most this many', default: '100' },
      json,
    ],
    help: `--json prints {"datasets": [dataset, ...]}.\n\n${DATASET_JSON}`,
    examples: [
      'lora datasets list',
      'lora datasets list --status ready --limit 20',
      'lora --wide datasets list --user 6f1c2b9e-3a4d-4e5f-8a7b-9c0d1e2f3a4b',
    ],
    load: () => import('../datasets-list.js'),
  },
  {
    path: ['datasets', 'show'],
    summary: 'show one dataset, its jobs, and whether its object is in storage',
    args: '<id>',
    options: [json],
    help: `--json prints {"dataset", "jobs": {"total", "active"}, "object": {"exists", "size"}}.\n\n${DATASET_JSON}`,
    examples: [
      'lora datasets show bfc44f88  # an id prefix',
      'lora datasets show support-chats --json  # or a name',
    ],
    load: () => import('../datasets-show.js'),
  },
  {
    path: ['datasets', 'delete'],
    summary: 'delete a dataset: the row (soft) and its object in storage',
    args: '<id>',
    options: [yes, dryRun, json],
    help: `Refused (exit 1) while a queued, initializing or running job trains on it.
The row is marked deleted first, then the object removed: if removal fails, the row
says so and running the command again finishes it. Recorded in the audit log.
--json prints {"id", "name", "deleted_at", "already_deleted", "object", "object_removed", "dry_run"}.`,
    examples: [
      'lora datasets delete bfc44f88 --dry-run',
      'lora datasets delete support-chats --yes',
    ],
    load: () => import('../datasets-delete.js'),
  },
]
