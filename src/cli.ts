import { Command, CommanderError, Help } from 'commander'
import { COMMANDS, type CommandModule, type CommandSpec, type ZodIssueLike } from '../commands/registry.js'
import { EXIT_CODE_HELP, ExitCode, LoraError, UsageError } from './errors.js'
import type { OutStream, InStream } from './io/streams.js'
import { colourAllowed, styleFor, type Style } from './io/style.js'
import { redact as redactText } from './redact.js'

export interface MainDeps {
  env: Record<string, string | undefined>
  stdout: OutStream
  stderr: OutStream
  stdin: InStream
  cwd: string
  signal: AbortSignal
}

const kebab = (key: string) => key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)

/** Turns the first zod issue of a command's options into one sentence naming the flag. */
export function optionIssueToError(issues: ZodIssueLike[]): UsageError {
  const issue = issues[0]!
  const key = issue.path[0]
  const name = typeof key === 'string' ? (key === 'args' ? 'argument' : `--${kebab(key)}`) : 'options'
  const message = issue.message.replace(/^Invalid input: /, '')
  return new UsageError(`Invalid ${name}: ${message}.`.replace(/\.\.$/, '.'), { code: 'invalid_option' })
}

/** The colour scheme of stderr, for what is printed before a command has its IO (errors, usage). */
function errStyle(deps: MainDeps, argv: string[]): Style {
  return styleFor(deps.stderr, deps.env, argv.includes('--no-color'))
}

async function reportError(deps: MainDeps, style: Style, error: unknown, verbose: boolean): Promise<ExitCode> {
  const { redact } = await import('./redact.js')
  if (error instanceof LoraError) {
    deps.stderr.write(redact(`${style.fail('error')}: ${error.message}\n`))
    if (error.hint) deps.stderr.write(redact(`${style.dim('hint')}: ${error.hint}\n`))
    if (verbose && error.stack) deps.stderr.write(redact(stackOf(error)) + '\n')
    return error.exitCode
  }
  const e = error as Error
  deps.stderr.write(redact(`${style.fail('error')}: unexpected failure: ${e?.message ?? String(error)}\n`))
  if (verbose) deps.stderr.write(redact(stackOf(e)) + '\n')
  else deps.stderr.write('hint: run again with --verbose (or LORA_DEBUG=1) for the stack trace.\n')
  return ExitCode.failed
}

/** What a failure no code awaited prints: one redacted sentence, the stack on request. */
export function crashReport(error: unknown, verbose: boolean): string {
  const e = error instanceof Error ? error : new Error(String(error))
  const head = redactText(`error: unexpected failure: ${e.message}\n`)
  if (verbose) return head + redactText(stackOf(e)) + '\n'
  return head + 'hint: run again with --verbose (or LORA_DEBUG=1) for the stack trace.\n'
}

function stackOf(error: Error): string {
  let text = error.stack ?? String(error)
  let cause = (error as { cause?: unknown }).cause
  while (cause instanceof Error) {
    text += `\ncaused by: ${cause.stack ?? cause.message}`
    cause = (cause as { cause?: unknown }).cause
  }
  return text
}

/** The words of argv that are not options or a global option's value; `help jobs` names jobs. */
function commandWords(argv: string[]): string[] {
  const words: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!
    if (word === '--profile' || word === '--database-url') i++
    else if (!word.startsWith('-')) words.push(word)
  }
  return words[0] === 'help' ? words.slice(1) : words
}

/** The command argv names in full (`jobs list ...`): the only one whose module is loaded to build the parser. */
export function namedCommand(argv: string[]): CommandSpec | undefined {
  const words = commandWords(argv)
  return COMMANDS.find((c) => c.path.every((p, i) => words[i] === p))
}

/** Edits (insert, delete, replace, swap two neighbours) between two words: for "did you mean". */
function distance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)))
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1))
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1)
    }
  }
  return d[a.length]![b.length]!
}

/** `lora jobs lst`: one sentence with the closest command, then the valid ones (exit 2). */
export function unknownSubcommand(group: string, word: string, valid: string[]): UsageError {
  const scored = valid.map((name) => ({ name, d: distance(word.toLowerCase(), name) })).sort((x, y) => x.d - y.d)
  const best = scored[0]
  const near = best && (best.d <= Math.max(1, Math.floor(best.name.length / 3)) || best.name.startsWith(word.toLowerCase()))
  return new UsageError(`unknown command '${word}' for '${group}'.${near ? ` Did you mean '${best.name}'?` : ''}`, {
    code: 'unknown_command',
    hint: `the commands of ${group}: ${valid.join(', ')} (see \`${group} --help\`).`,
  })
}

/**
 * Builds the program. Only commander and this file load for --help and --version;
 * of the commands, only the module of the one argv names (for its flags and help).
 */
export async function buildProgram(deps: MainDeps, argv: string[], onAction: (spec: CommandSpec, cmd: Command, args: unknown[]) => Promise<void>): Promise<Command> {
  const program = new Command('lora')
  program
    .description('Operations tool of the LoRA fine-tuning platform: datasets, training jobs, the job daemon, metrics, health and maintenance.')
    .version(LORA_VERSION, '-V, --version', 'print the version (also -v; `lora version` says more)')
    .option('--profile <name>', 'configuration profile (env LORA_PROFILE)')
    .option('--database-url <url>', 'Postgres URL or embedded[:DIR] (env DATABASE_URL)')
    .option('--json', 'print JSON instead of tables (read commands)')
    .option('--wide', 'tables show every column and whole ids (a terminal fits them to its width)')
    .option('--verbose', 'show stack traces and debug detail (or LORA_DEBUG=1)')
    .option('--no-color', 'no colour (also NO_COLOR)')
    .helpOption('-h, --help', 'show help')
    .addHelpText('after', `\n${EXIT_CODE_HELP}\n\nWith no configuration, lora runs on the embedded stack under .lora/ (PGlite, folder storage, the cluster simulator).`)
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (s) => deps.stdout.write(s),
      writeErr: (s) => deps.stderr.write(s),
      // Help wraps at the width of the terminal it goes to: this command's, which is not
      // this process's when the local service runs the command (src/local-commands.ts).
      getOutHelpWidth: () => (deps.stdout.isTTY && deps.stdout.columns ? deps.stdout.columns : 80),
      getErrHelpWidth: () => (deps.stderr.isTTY && deps.stderr.columns ? deps.stderr.columns : 80),
      getOutHasColors: () => colourAllowed(deps.stdout, deps.env, argv.includes('--no-color')),
      getErrHasColors: () => colourAllowed(deps.stderr, deps.env, argv.includes('--no-color')),
      outputError: (s, write) => write(s.replace(/^error: /, `${errStyle(deps, argv).fail('error')}: `)),
    })
    .exitOverride()

  // Only the branch of the tree that argv names is built: `lora --help` lists the
  // groups without creating every subcommand, and of that branch only the command
  // argv names loads its module, which keeps startup fast.
  const first = commandWords(argv)[0]
  const selected = COMMANDS.some((c) => c.path[0] === first) ? first : null
  const named = namedCommand(argv)
  const module = named ? await named.load() : undefined
  const groups = new Map<string, Command>()
  const groupFor = (parent: Command, names: string[]): Command => {
    let current = parent
    let key = ''
    for (const name of names) {
      key += `/${name}`
      let group = groups.get(key)
      if (!group) {
        const children = [...new Set(COMMANDS.filter((c) => c.path.join('/').startsWith(key.slice(1) + '/')).map((c) => c.path[key.split('/').length - 1]))].filter((w): w is string => w !== undefined)
        const title = `lora ${key.slice(1).split('/').join(' ')}`
        // The summary lists the commands in the parent's help; the group's own help lists them itself.
        group = current
          .command(name)
          .summary(children.join(' | '))
          .description(`The ${title} commands; \`${title} COMMAND --help\` shows each one's flags and examples.`)
          .usage('[options] <command>')
          .helpOption('-h, --help', 'show help')
        group.configureOutput(program.configureOutput()).exitOverride()
        // Every command takes flags: the group's help says so of the commands whose
        // module is not loaded too, as commander says it of a loaded one.
        group.configureHelp({ subcommandTerm: (c) => leafTerm(c) })
        // A word that names none of its commands reaches here (commander would say
        // "too many arguments"); `help` shows the group's help, as `lora help jobs` does.
        group.argument('[command]').allowExcessArguments().allowUnknownOption()
        const self = group
        group.action((word: string | undefined) => {
          if (word === 'help') self.help()
          else if (word === undefined) self.help({ error: true })
          else throw unknownSubcommand(title, word, children)
        })
        groups.set(key, group)
      }
      current = group
    }
    return current
  }

  for (const spec of COMMANDS) {
    if (spec.path[0] !== selected) {
      // A command argv names needs none of the other groups: they only list themselves in help.
      if (named) continue
      if (spec.path.length > 1) groupFor(program, spec.path.slice(0, 1))
      else program.command(spec.args ? `${spec.path[0]} ${spec.args}` : spec.path[0]!).description(spec.summary)
      continue
    }
    const parent = groupFor(program, spec.path.slice(0, -1))
    const name = spec.path[spec.path.length - 1]!
    const cmd = parent
      .command(spec.args ? `${name} ${spec.args}` : name)
      .description(spec.summary)
      .helpOption('-h, --help', 'show help')
    // A command argv does not name is only listed in its group's help.
    if (spec !== named) continue
    addFlagsAndHelp(cmd, module!)
    cmd.configureOutput(program.configureOutput()).exitOverride()
    cmd.action(async (...args: unknown[]) => {
      const command = args[args.length - 1] as Command
      await onAction(spec, command, args.slice(0, -2))
    })
  }
  return program
}

const defaultHelp = new Help()
/** A command's line in its group's help: `list [options]`, `show [options] <id>`; a group's as commander writes it. */
function leafTerm(cmd: Command): string {
  const term = defaultHelp.subcommandTerm(cmd)
  if (cmd.commands.length > 0 || cmd.options.length > 0) return term
  return term.replace(/^(\S+)/, '$1 [options]')
}

/** A command's flags, as its module declares them, and the help text and examples that end its --help. */
function addFlagsAndHelp(cmd: Command, module: CommandModule): void {
  for (const flag of Object.values(module.flags)) {
    if (flag.default !== undefined) cmd.option(flag.flags, flag.description, flag.default)
    else cmd.option(flag.flags, flag.description)
  }
  if (module.help) cmd.addHelpText('after', `\n${module.help}`)
  if (module.examples.length) cmd.addHelpText('after', `\nExamples:\n${module.examples.map((e) => `  $ ${e}`).join('\n')}`)
}

/** What a command's Options schema parses: its flags, the global --json, its positional arguments. */
export function commandInput(spec: CommandSpec, cmd: Command, args: unknown[]): Record<string, unknown> {
  const globals = cmd.optsWithGlobals() as Record<string, unknown>
  const input: Record<string, unknown> = { ...cmd.opts(), json: Boolean(globals.json) }
  if (spec.args) input.args = args.length === 1 ? args[0] : args
  return input
}

/** The only commands that create an embedded stack where none is found; the others use one. */
const STACK_CREATORS = new Set(['db migrate', 'local start', 'demo'])
/** Commands that need no stack: the others, on the embedded profile, refuse to run without one. */
const STACK_FREE = new Set(['config show', 'config check', 'completion', 'version', 'cluster simulate', 'local status', 'local stop'])

/** Runs lora with argv (without node and script); returns the exit code. Never exits. */
export async function main(argv: string[], deps: MainDeps): Promise<number> {
  let exitCode: ExitCode = ExitCode.ok
  let verbose = Boolean(deps.env.LORA_DEBUG) || argv.includes('--verbose')
  let context: import('./context.js').Context | undefined

  const onAction = async (spec: CommandSpec, cmd: Command, args: unknown[]) => {
    const globals = cmd.optsWithGlobals() as Record<string, unknown>
    verbose ||= Boolean(globals.verbose)
    const module = await spec.load()
    const { createContext } = await import('./context.js')
    context = createContext({
      env: deps.env,
      cwd: deps.cwd,
      signal: deps.signal,
      createStack: STACK_CREATORS.has(spec.path.join(' ')),
      globals: {
        json: Boolean(globals.json),
        verbose,
        color: globals.color !== false,
        ...(typeof globals.profile === 'string' ? { profile: globals.profile } : {}),
        ...(typeof globals.databaseUrl === 'string' ? { databaseUrl: globals.databaseUrl } : {}),
      },
      io: new (await import('./io/streams.js')).IO({
        stdout: deps.stdout,
        stderr: deps.stderr,
        // Standard input opens when first read: only to ask whether a prompt is possible.
        stdin: {
          get isTTY() {
            return deps.stdin.isTTY
          },
        },
        env: deps.env,
        noColor: globals.color === false,
        wide: Boolean(globals.wide),
      }),
    })
    const parsed = module.Options.safeParse(commandInput(spec, cmd, args))
    if (!parsed.success) throw optionIssueToError(parsed.error.issues)
    const path = spec.path.join(' ')
    // A dry-run upload validates the file and touches no database: it needs no stack.
    const needsNoDatabase = path === 'datasets upload' && (parsed.data as { dryRun?: boolean }).dryRun === true
    if (!STACK_CREATORS.has(path) && !STACK_FREE.has(path) && !needsNoDatabase) {
      const config = await context.config()
      if (config.embedded && config.stackFound === false) throw (await import('./local-client.js')).noStack(config, deps.cwd)
    }
    exitCode = await module.run(parsed.data as never, context)
  }

  try {
    const program = await buildProgram(deps, argv, onAction)
    if (argv.length === 0) {
      program.outputHelp()
      return ExitCode.ok
    }
    // -v as the whole command line is the version, as in most tools (commander takes one short flag for it).
    await program.parseAsync(argv.length === 1 && argv[0] === '-v' ? ['--version'] : argv, { from: 'user' })
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') {
        exitCode = ExitCode.ok
      } else if (error.code === 'commander.help') {
        // A group without its subcommand (`lora db`): help on stderr, a usage error.
        exitCode = error.exitCode === 0 ? ExitCode.ok : ExitCode.usage
      } else {
        // Commander has printed its one-line message already.
        exitCode = error.code === 'commander.executeSubCommandAsync' ? ExitCode.failed : ExitCode.usage
      }
    } else {
      exitCode = await reportError(deps, errStyle(deps, argv), error, verbose)
    }
  } finally {
    await context?.close()
  }
  return exitCode
}
