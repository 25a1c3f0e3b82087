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
  /** The command's module. */
  load: () => Promise<CommandModule>
  /** Extra help text after the options. */
  help?: string
  /** 1 to 4 command lines that end its --help; a test parses each one's flags. */
  examples?: string[]
}

export interface CommandModule {
  // Each module's own zod schema checks the options; the registry only moves them.
  Options: { safeParse(input: unknown): { success: true; data: unknown } | { success: false; error: { issues: ZodIssueLike[] } } }
  /** Returns how lora exits, or throws (a LoraError carries its own exit code). */
  run(options: never, ctx: import('../src/context.js').Context): Promise<import('../src/errors.js').ExitCode>
}

export interface ZodIssueLike {
  path: PropertyKey[]
  message: string
  code: string
}

import { CONFIG } from './specs/config.js'
import { DB } from './specs/db.js'
import { LOCAL } from './specs/local.js'
import { CLUSTER } from './specs/cluster.js'
import { DAEMON } from './specs/daemon.js'
import { JOBS } from './specs/jobs.js'
import { DATASETS } from './specs/datasets.js'
import { OBSERVABILITY } from './specs/observability.js'
import { MAINTENANCE } from './specs/maintenance.js'
import { COSTS } from './specs/costs.js'
import { EXPERIENCE } from './specs/experience.js'

/** In the order --help lists them. Each area's commands are in commands/specs/<area>.ts. */
export const COMMANDS: CommandSpec[] = [
  ...CONFIG,
  ...DB,
  ...LOCAL,
  ...CLUSTER,
  ...DAEMON,
  ...JOBS,
  ...DATASETS,
  ...OBSERVABILITY,
  ...MAINTENANCE,
  ...COSTS,
  ...EXPERIENCE,
]
