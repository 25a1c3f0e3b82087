// What runs a lora command as a process: the only place that exits. Both entries call
// it: the ES module build (dist/lora.js, after its --version and --help) and the
// startup snapshot (dist/lora.blob, see bin/snapshot.ts), so that every command
// behaves the same whichever one starts it.
import type { MainDeps } from './cli.js'

export interface LaunchOptions {
  /** The program: the snapshot has it loaded already; the module entry imports it now. */
  loadMain: () => Promise<(argv: string[], deps: MainDeps) => Promise<number>>
  crashReport: () => Promise<(error: unknown, verbose: boolean) => string>
}

/** `lora ... | head` closes the pipe early: that is not an error, the process just ends. */
export function endOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0)
      throw error
    })
  }
}

export async function launch(argv: string[], options: LaunchOptions): Promise<void> {
  endOnClosedPipe()
  // A failure no code awaited would reach Node's default handler, which prints the raw
  // error, secrets and all. It gets the same treatment as any other error: one redacted
  // sentence (the stack with LORA_DEBUG=1), exit 1. A command that handles these itself
  // (the daemon rides out a dropped connection) adds its own listener and is left to it.
  for (const event of ['uncaughtException', 'unhandledRejection'] as const) {
    process.on(event, (error: unknown) => {
      if (process.listenerCount(event) > 1) return
      // The failure may be that lora's own code does not load (a file of the install
      // missing): the report then says so without it, and lora still exits, rather
      // than failing to load it again for every failure that causes.
      void options
        .crashReport()
        .then(
          (crashReport) => process.stderr.write(crashReport(error, process.env.LORA_DEBUG === '1' || process.argv.includes('--verbose'))),
          () => process.stderr.write('error: lora could not load its own code (a file of its install is missing or unreadable); reinstall it.\n'),
        )
        .finally(() => process.exit(1))
    })
  }
  const { setFlagsFromString } = await import('node:v8')
  if (!keepsOptimizingTier(argv)) {
    // The HTTP client (undici) parses with WebAssembly, and V8 optimizes a module's hot
    // functions on background threads that a process waits for as it exits: a
    // tenth of a second (more on a busy machine) added to `lora health`. A command
    // is short, so it keeps the baseline code. The database (PGlite, WebAssembly
    // too) runs a third faster optimized: the processes that hold it keep the tier.
    setFlagsFromString('--liftoff-only')
  } else {
    // But V8's default threshold also optimizes what the database runs only as it
    // starts: a local service spent 2.4 s of CPU to start, idle 2 s and stop, 1.8 s
    // with ten times the threshold (means of 5), and its queries ran as fast once warm.
    setFlagsFromString('--wasm-tiering-budget=18000000')
  }
  const main = await options.loadMain()
  const controller = new AbortController()
  let interrupts = 0
  const onSignal = (signal: NodeJS.Signals) => {
    interrupts += 1
    if (interrupts > 1) process.exit(signal === 'SIGINT' ? 130 : 143)
    controller.abort(Object.assign(new Error(`Interrupted by ${signal}.`), { name: 'AbortError' }))
    process.exitCode = signal === 'SIGINT' ? 130 : 143
  }
  process.on('SIGINT', onSignal)
  process.on('SIGTERM', onSignal)

  const code = await main(argv, {
    env: process.env,
    stdout: process.stdout,
    stderr: process.stderr,
    // Node opens standard input when it is first read: most commands never do.
    get stdin() {
      return process.stdin
    },
    cwd: process.cwd(),
    signal: controller.signal,
  })
  process.exitCode = code
  // Whatever still holds the event loop (a socket a driver failed to close) must not
  // keep a finished command alive.
  setTimeout(() => process.exit(process.exitCode ?? code), 2000).unref()
}

/**
 * `lora local start` and `lora demo` run the embedded database in their own process;
 * `lora daemon` runs for days, its calls to the cluster worth the optimized tier.
 */
function keepsOptimizingTier(argv: string[]): boolean {
  const words: string[] = []
  for (let i = 0; i < argv.length && words.length < 2; i++) {
    if (argv[i] === '--profile' || argv[i] === '--database-url') i++
    else if (!argv[i]!.startsWith('-')) words.push(argv[i]!)
  }
  return words[0] === 'demo' || words[0] === 'daemon' || (words[0] === 'local' && words[1] === 'start')
}
