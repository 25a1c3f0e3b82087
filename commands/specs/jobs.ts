import type { CommandSpec } from '../registry.js'
import { dryRun, json, yes } from './common.js'

const JOB_OUTPUT = `The job's fields in --json are the columns of training_jobs (id, user_id, dataset_id,
dataset_name, preset_id, status, current_stage, progress, current_epoch, total_epochs,
current_step, total_steps, current_metrics, hyperparameters, gpu_config, external_job_id,
cluster_name, estimated_total_cost, current_cost, final_cost, error_message, wait_reason,
created_at, started_at, completed_at, updated_at, ...).`

export const JOBS: CommandSpec[] = [
  {
    path: ['jobs', 'submit'],
    summary: 'submit a training job (prompts for what is missing at a terminal)',
    options: [
      { flags: '--dataset <id|name>', description: 'a ready dataset of the user, by id or name' },
      { flags: '--preset <name>', description: 'fast | balanced | quality (default balanced without a terminal)' },
      { flags: '--epochs <n>', description: 'epochs, 1 to 100 (default: the preset\'s)' },
      { flags: '--learning-rate <x>', description: 'learning rate, 1e-6 to 1e-2' },
      { flags: '--rank <n>', description: 'LoRA rank, 1 to 256 (alpha keeps the preset\'s ratio)' },
      { flags: '--gpu-type <type>', description: 'a GPU type of the profile\'s price list' },
      { flags: '--gpus <n>', description: 'number of GPUs, 1 to 8' },
      { flags: '--user <uuid>', description: 'the user the job is for (or LORA_USER_ID)' },
      { flags: '--watch', description: 'then follow the job as `jobs watch` does, and exit by its end' },
      { flags: '--interval <duration>', description: 'with --watch: poll interval', default: '2s' },
      { ...dryRun, description: 'show the job and its estimate, submit nothing' },
      yes,
      json,
    ],
    help: `It spends money: on a terminal it asks first; otherwise it needs --yes (exit 2 without it,
nothing written). --dry-run shows the job and its estimate and submits nothing.
Prints the job id (alone when piped), or {"job": ..., "estimate": ...} with --json
({"dry_run": true, "plan", "estimate"} with --dry-run).
Refused with exit 1, nothing written: a dataset missing, not ready or another user's;
a user over the monthly limit; the monthly budget used up.\n\n${JOB_OUTPUT}`,
    examples: [
      'lora jobs submit  # at a terminal: asks for what is missing',
      'lora jobs submit --dataset support-chats --user 6f1c2b9e-3a4d-4e5f-8a7b-9c0d1e2f3a4b --preset fast --yes --watch',
      'lora jobs submit --dataset bfc44f88 --user 6f1c2b9e-3a4d-4e5f-8a7b-9c0d1e2f3a4b --epochs 5 --gpus 2 --dry-run',
    ],
    load: () => import('../jobs-submit.js'),
  },
  {
    path: ['jobs', 'list'],
    summary: 'list training jobs, newest first, with why queued ones wait',
    options: [
      { flags: '--status <list>', description: 'comma-separated statuses, or active' },
      { flags: '--user <uuid>', description: "only this user's jobs" },
      { flags: '--since <duration>', description: 'only jobs created in the last 7d, 12h, ...' },
      { flags: '--limit <n>', description: 'at most this many jobs', default: '50' },
      json,
    ],
    help: `--json prints {"jobs": [job, ...]}.\n\n${JOB_OUTPUT}`,
    examples: [
      'lora jobs list',
      'lora jobs list --status active --since 24h',
      'lora --wide jobs list --status failed --limit 10',
    ],
    load: () => import('../jobs-list.js'),
  },
  {
    path: ['jobs', 'show'],
    summary: 'show one training job: progress, metrics, configuration, costs, loss curves',
    args: '<id>',
    options: [json],
    help: `--json prints {"job", "dataset", "metrics" (the last 100 points), "cost_records", "artifact"}.\n\n${JOB_OUTPUT}`,
    examples: [
      'lora jobs show bfc44f88  # an id prefix',
      'lora jobs show bfc44f88 --json',
    ],
    load: () => import('../jobs-show.js'),
  },
  {
    path: ['jobs', 'watch'],
    summary: 'follow a training job live; exit by its final state',
    args: '<id>',
    options: [{ flags: '--interval <duration>', description: 'poll interval (NOTIFY wakes it sooner)', default: '2s' }, json],
    help: `A live view on a terminal; one tab-separated line per change when piped; one JSON
object per change with --json. Exit 0 when the job completes, 1 when it fails or is
cancelled, 130 on Ctrl-C (the job keeps running).`,
    examples: [
      'lora jobs watch bfc44f88',
      'lora jobs watch bfc44f88 --interval 5s --json',
    ],
    load: () => import('../jobs-watch.js'),
  },
  {
    path: ['jobs', 'logs'],
    summary: "print a job's training log from its GPU cluster; --follow until the job ends",
    args: '<id>',
    options: [
      { flags: '--follow', description: 'keep printing new lines until the job ends, and exit by its end' },
      { flags: '--tail <n>', description: 'only the last n lines (then, with --follow, every new one)' },
      { flags: '--interval <duration>', description: 'with --follow: poll interval', default: '2s' },
      json,
    ],
    help: `One line per log line: "TIME  TEXT" on a terminal, TIME<tab>TEXT when piped, one JSON
object {"ts", "text"} per line with --json. Exit 0; with --follow, by the job's end as
\`jobs watch\`: 0 completed, 1 failed or cancelled, 130 on Ctrl-C (the job keeps running).
Exit 1 when the cluster has no logs endpoint (it is optional in the cluster contract).`,
    examples: [
      'lora jobs logs bfc44f88 --tail 50',
      'lora jobs logs bfc44f88 --follow',
      'lora jobs logs bfc44f88 --json',
    ],
    load: () => import('../jobs-logs.js'),
  },
  {
    path: ['jobs', 'cancel'],
    summary: 'cancel queued, initializing or running jobs (on the cluster too)',
    args: '<ids...>',
    options: [{ flags: '--reason <text>', description: 'why: kept in the notification and the audit log' }, { ...dryRun, description: 'say what cancelling would do, cancel nothing' }, yes, json],
    help: 'On a terminal it asks first; otherwise it needs --yes. --dry-run says what it would do and changes nothing.\nExit 1 when any job could not be cancelled (not found, or already finished).',
    examples: [
      'lora jobs cancel bfc44f88 --dry-run',
      'lora jobs cancel bfc44f88 c0ffee01 --yes --reason "wrong dataset"',
    ],
    load: () => import('../jobs-cancel.js'),
  },
]
