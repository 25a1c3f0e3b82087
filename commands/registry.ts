/**
 * Every subcommand of lora, as data: what `lora --help` shows, with no command
 * code loaded. Each built command's code (its options schema and run function) is
 * in commands/<path>.ts and imported only when that command runs.
 */
export interface OptionSpec {
  flags: string
  description: string
  default?: string | boolean
}

export interface CommandSpec {
  /** ['jobs', 'submit'] is `lora jobs submit`. */
  path: string[]
  summary: string
  /** Positional arguments in commander syntax: '<file>', '[ids...]'. */
  args?: string
  options?: OptionSpec[]
  /** The command's module; absent while it is not built. */
  load?: () => Promise<CommandModule>
  /** Extra help text after the options. */
  help?: string
}

export interface CommandModule {
  // Each module's own zod schema checks the options; the registry only moves them.
  Options: { safeParse(input: unknown): { success: true; data: unknown } | { success: false; error: { issues: ZodIssueLike[] } } }
  run(options: never, ctx: import('../src/context.js').Context): Promise<number | void>
}

export interface ZodIssueLike {
  path: PropertyKey[]
  message: string
  code: string
}

const json: OptionSpec = { flags: '--json', description: 'print JSON (stable field names)' }
const yes: OptionSpec = { flags: '-y, --yes', description: 'do not ask for confirmation (required without a terminal)' }
const dryRun: OptionSpec = { flags: '--dry-run', description: 'show exactly what would change, change nothing' }

export const COMMANDS: CommandSpec[] = [
  {
    path: ['config', 'show'],
    summary: 'show the resolved configuration, where each value came from, secrets redacted',
    options: [json],
    load: () => import('./config-show.js'),
  },
  {
    path: ['config', 'check'],
    summary: 'validate the configuration files and environment',
    options: [json],
    load: () => import('./config-check.js'),
  },
  {
    path: ['db', 'migrate'],
    summary: 'apply the bundled schema migrations (idempotent, safe to run concurrently)',
    options: [json],
    load: () => import('./db-migrate.js'),
  },
  {
    path: ['db', 'status'],
    summary: 'show applied migrations and schema drift; exit 1 when behind or drifted',
    options: [json],
    load: () => import('./db-status.js'),
  },
  {
    path: ['local', 'start'],
    summary: 'hold the embedded stack in the foreground and serve it to other lora commands',
    options: [json],
    load: () => import('./local-start.js'),
  },
  {
    path: ['cluster', 'status'],
    summary: "show each GPU cluster's reachability, latency and breaker state",
    options: [json],
    load: () => import('./cluster-status.js'),
  },
  {
    path: ['cluster', 'breaker', 'reset'],
    summary: "close a cluster's circuit breaker (on-call; recorded in the audit log)",
    args: '<name>',
    options: [json],
    load: () => import('./cluster-breaker-reset.js'),
  },
  {
    path: ['cluster', 'simulate'],
    summary: 'run the GPU cluster simulator on loopback until Ctrl-C',
    options: [
      { flags: '--port <n>', description: 'port (0 picks a free one)', default: '0' },
      { flags: '--host <addr>', description: 'loopback address to listen on', default: '127.0.0.1' },
      { flags: '--speed <x>', description: 'simulated time per real time (60: an hour of training per minute)', default: '1' },
      { flags: '--seed <n>', description: 'seed of the loss noise and of the faults', default: '1' },
      { flags: '--fail-rate <r>', description: 'share of API calls answered 503', default: '0' },
      { flags: '--latency <ms>', description: 'delay added to every API call', default: '0' },
      { flags: '--malformed-rate <r>', description: 'share of answers that break the contract', default: '0' },
      { flags: '--hang-rate <r>', description: 'share of calls never answered', default: '0' },
      { flags: '--job-fail-rate <r>', description: 'share of jobs that end failed', default: '0' },
      { flags: '--never-finish-rate <r>', description: 'share of jobs that never finish', default: '0' },
      { flags: '--api-key <key>', description: 'require this Bearer key' },
      { flags: '--state <file>', description: 'where jobs persist (default .lora/simulator.json)' },
      json,
    ],
    load: () => import('./cluster-simulate.js'),
  },
  { path: ['daemon'], summary: 'run the job processor and alert emitter (--once for cron)' },
  { path: ['jobs', 'submit'], summary: 'submit a training job' },
  { path: ['jobs', 'list'], summary: 'list training jobs' },
  { path: ['jobs', 'show'], summary: 'show one training job', args: '<id>' },
  { path: ['jobs', 'watch'], summary: 'follow a training job live; exit by its final state', args: '<id>' },
  { path: ['jobs', 'cancel'], summary: 'cancel training jobs', args: '<ids...>' },
  { path: ['datasets', 'upload'], summary: 'validate and upload a JSONL dataset', args: '<file>' },
  { path: ['datasets', 'list'], summary: 'list datasets' },
  { path: ['datasets', 'show'], summary: 'show one dataset', args: '<id>' },
  { path: ['datasets', 'delete'], summary: 'delete a dataset', args: '<id>' },
  { path: ['metrics'], summary: 'platform metrics: jobs, datasets, cost, storage, errors, users', args: '[section]' },
  { path: ['health'], summary: 'check the platform; exit 1 when a check reaches --fail-on' },
  { path: ['alerts', 'list'], summary: 'list firing and recent alerts' },
  { path: ['alerts', 'silence'], summary: 'silence an alert rule for a while', args: '<rule>' },
  { path: ['alerts', 'test'], summary: 'send a test alert to a sink', args: '<sink>' },
  { path: ['alerts', 'evaluate'], summary: 'evaluate the alert rules once' },
  { path: ['cleanup', 'orphans'], summary: 'cancel cluster jobs the database no longer runs' },
  { path: ['cleanup', 'validation-images'], summary: 'delete validation images past their retention' },
  { path: ['cleanup', 'notifications'], summary: 'delete old read notifications' },
  { path: ['cleanup', 'uploads'], summary: 'retry artifact uploads that failed after training' },
  { path: ['cleanup', 'archival-review'], summary: 'list artifacts unused for months (report only)' },
  { path: ['cleanup', 'all'], summary: 'run every cleanup' },
  { path: ['reset-limits'], summary: "reset users' monthly training counts" },
  { path: ['demo'], summary: 'a one-minute tour of the whole platform on the embedded stack' },
  { path: ['completion'], summary: 'print shell completion', args: '<shell>' },
]

export const SHARED_OPTIONS = { json, yes, dryRun }
