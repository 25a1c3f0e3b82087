// The only place that exits: build the program, run it, set the exit code.

// The build renders the help with the real program: it passes this to skip the copy.
const prerendered = !process.argv.includes('--no-prerendered-help')
const argv = process.argv.slice(2).filter((a) => a !== '--no-prerendered-help')
// `lora ... | head` closes the pipe early: that is not an error.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(process.exitCode ?? 0)
    throw error
  })
}
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
    void import('../src/cli.js').then(
      ({ crashReport }) => process.stderr.write(crashReport(error, process.env.LORA_DEBUG === '1' || process.argv.includes('--verbose'))),
      () => process.stderr.write('error: lora could not load its own code (a file of its install is missing or unreadable); reinstall it.\n'),
    ).finally(() => process.exit(1))
  })
}
// `lora --version` answers before anything else loads: scripts call it often.
const rootHelp = argv.length === 1 && (argv[0] === '--help' || argv[0] === '-h')
if (argv.length === 1 && (argv[0] === '--version' || argv[0] === '-V' || argv[0] === '-v')) {
  process.stdout.write(`${LORA_VERSION}\n`)
} else if (rootHelp && prerendered && (!process.stdout.isTTY || process.stdout.columns === 80)) {
  // Rendered by the real program when lora was built (scripts/build.mjs).
  const { readFileSync } = await import('node:fs')
  process.stdout.write(readFileSync(new URL('./help.txt', import.meta.url), 'utf8'))
} else {
  const { main } = await import('../src/cli.js')
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
    stdin: process.stdin,
    cwd: process.cwd(),
    signal: controller.signal,
  })
  process.exitCode = code
  // Whatever still holds the event loop (a socket a driver failed to close) must not
  // keep a finished command alive.
  setTimeout(() => process.exit(process.exitCode ?? code), 2000).unref()
}
