import type { Context } from '../src/context.js'
import type { ExitCode } from '../src/errors.js'
import type { Flags } from '../src/flags.js'

/**
 * Every subcommand of lora, as data: what routing and the root and group --help
 * need, with no command code loaded. A command's flags, help text and examples are
 * beside its run function in commands/<path>.ts, imported only when that command
 * runs or shows its own --help.
 */
export interface CommandSpec {
  /** ['jobs', 'submit'] is `lora jobs submit`. */
  path: string[]
  summary: string
  /** Positional arguments in commander syntax: '<file>', '[ids...]'. */
  args?: string
  /** The command's module. */
  load: () => Promise<CommandModule>
}

export interface CommandModule {
  /** The command's flags, in the order its --help lists them; its Options are derived from them. */
  flags: Flags
  // Each module's own zod schema checks the options; the registry only moves them.
  Options: { safeParse(input: unknown): { success: true; data: unknown } | { success: false; error: { issues: ZodIssueLike[] } } }
  /** Extra help text after the options. */
  help?: string
  /** 1 to 4 command lines that end its --help; a test parses each one's flags. */
  examples: string[]
  /** Returns how lora exits, or throws (a LoraError carries its own exit code). */
  run(options: never, ctx: Context): Promise<ExitCode>
}

export interface ZodIssueLike {
  path: PropertyKey[]
  message: string
  code: string
}

/** In the order --help lists them. */
export const COMMANDS: CommandSpec[] = [
  { path: ['config', 'show'], summary: 'show the resolved configuration, where each value came from, secrets redacted', load: () => import('./config-show.js') },
  { path: ['config', 'check'], summary: 'validate the configuration files and environment', load: () => import('./config-check.js') },
  { path: ['db', 'migrate'], summary: 'apply the bundled schema migrations (idempotent, safe to run concurrently)', load: () => import('./db-migrate.js') },
  { path: ['db', 'status'], summary: 'show applied migrations and schema drift; exit 1 when behind or drifted', load: () => import('./db-status.js') },
  { path: ['local', 'start'], summary: "run the embedded stack's local service in the foreground (database, storage, simulator, job processor)", load: () => import('./local-start.js') },
  { path: ['local', 'status'], summary: "whether the stack's local service runs, and what it serves", load: () => import('./local-status.js') },
  { path: ['local', 'stop'], summary: "stop the stack's local service (the next command starts it again)", load: () => import('./local-stop.js') },
  { path: ['cluster', 'status'], summary: "show each GPU cluster's reachability, latency and breaker state", load: () => import('./cluster-status.js') },
  { path: ['cluster', 'breaker', 'reset'], summary: "close a cluster's circuit breaker (on-call; recorded in the audit log)", args: '<name>', load: () => import('./cluster-breaker-reset.js') },
  { path: ['cluster', 'simulate'], summary: 'run the GPU cluster simulator on loopback until Ctrl-C', load: () => import('./cluster-simulate.js') },
  { path: ['daemon'], summary: 'run the job processor and alert emitter (--once for cron)', load: () => import('./daemon.js') },
  { path: ['jobs', 'submit'], summary: 'submit a training job (prompts for what is missing at a terminal)', load: () => import('./jobs-submit.js') },
  { path: ['jobs', 'list'], summary: 'list training jobs, newest first, with why queued ones wait', load: () => import('./jobs-list.js') },
  { path: ['jobs', 'show'], summary: 'show one training job: progress, metrics, configuration, costs, loss curves', args: '<id>', load: () => import('./jobs-show.js') },
  { path: ['jobs', 'watch'], summary: 'follow a training job live; exit by its final state', args: '<id>', load: () => import('./jobs-watch.js') },
  { path: ['jobs', 'logs'], summary: "print a job's training log from its GPU cluster; --follow until the job ends", args: '<id>', load: () => import('./jobs-logs.js') },
  { path: ['jobs', 'cancel'], summary: 'cancel queued, initializing or running jobs (on the cluster too)', args: '<ids...>', load: () => import('./jobs-cancel.js') },
  { path: ['datasets', 'upload'], summary: 'validate a JSONL dataset, then upload it (resumable) and record it', args: '<file>', load: () => import('./datasets-upload.js') },
  { path: ['datasets', 'list'], summary: 'list datasets, newest first', load: () => import('./datasets-list.js') },
  { path: ['datasets', 'show'], summary: 'show one dataset, its jobs, and whether its object is in storage', args: '<id>', load: () => import('./datasets-show.js') },
  { path: ['datasets', 'delete'], summary: 'delete a dataset: the row (soft) and its object in storage', args: '<id>', load: () => import('./datasets-delete.js') },
  { path: ['metrics'], summary: 'platform metrics: jobs, datasets, cost, storage, errors, users', args: '[section]', load: () => import('./metrics.js') },
  { path: ['health'], summary: 'check the platform; exit 1 when a check reaches --fail-on', load: () => import('./health.js') },
  { path: ['alerts', 'list'], summary: 'list firing and recent alerts', load: () => import('./alerts-list.js') },
  { path: ['alerts', 'silence'], summary: 'silence an alert rule for a while', args: '<rule>', load: () => import('./alerts-silence.js') },
  { path: ['alerts', 'test'], summary: 'send a test alert to a sink', args: '<sink>', load: () => import('./alerts-test.js') },
  { path: ['alerts', 'evaluate'], summary: 'evaluate the alert rules once', load: () => import('./alerts-evaluate.js') },
  { path: ['cleanup', 'orphans'], summary: 'cancel cluster jobs the database says are finished, does not know, or run past the limit', load: () => import('./cleanup-orphans.js') },
  { path: ['cleanup', 'validation-images'], summary: 'delete validation images past their retention', load: () => import('./cleanup-validation-images.js') },
  { path: ['cleanup', 'notifications'], summary: 'delete read notifications older than the cut-off, in batches', load: () => import('./cleanup-notifications.js') },
  { path: ['cleanup', 'uploads'], summary: 'retry artifact uploads that failed after training (3 attempts, then alert)', load: () => import('./cleanup-uploads.js') },
  { path: ['cleanup', 'archival-review'], summary: 'list artifacts unused for months, with size and storage cost (report only)', load: () => import('./cleanup-archival-review.js') },
  { path: ['cleanup', 'all'], summary: 'run every cleanup', load: () => import('./cleanup-all.js') },
  { path: ['reset-limits'], summary: "reset users' monthly training counts (the 1st of the month, UTC)", load: () => import('./reset-limits.js') },
  { path: ['budget', 'show'], summary: "the month's budget: recorded, committed by running jobs, remaining, projected", load: () => import('./budget-show.js') },
  { path: ['costs', 'reconcile'], summary: "compare the cluster's billed GPU time with the cost records, job by job", load: () => import('./costs-reconcile.js') },
  { path: ['limits', 'show'], summary: "users' jobs used of their monthly limit, and the next reset", load: () => import('./limits-show.js') },
  { path: ['limits', 'set'], summary: "set one user's monthly job limit (audited)", load: () => import('./limits-set.js') },
  { path: ['demo'], summary: 'a one-minute tour of the whole platform on the embedded stack', load: () => import('./demo.js') },
  { path: ['version'], summary: 'print the version, Node, the platform and the schema versions (bundled, applied)', load: () => import('./version.js') },
  { path: ['completion'], summary: 'print shell completion: bash, zsh or fish', args: '[shell...]', load: () => import('./completion.js') },
]
