// The ES module entry (dist/lora.js): bin/lora starts it when there is no startup
// snapshot for this Node, and for --version and --help.
const raw = process.argv.slice(2)
// The build renders the help with the real program: it passes this to skip the copy.
const prerendered = !raw.includes('--no-prerendered-help')
const argv = raw.filter((a) => a !== '--no-prerendered-help')
const only = argv.length === 1 ? argv[0] : undefined

// `lora --version` and the root help (rendered by the real program when lora was
// built, scripts/build.mjs) answer before anything else loads: scripts call them often.
const answer =
  only === '--version' || only === '-V' || only === '-v'
    ? async () => `${LORA_VERSION}\n`
    : (only === '--help' || only === '-h') && prerendered && (!process.stdout.isTTY || process.stdout.columns === 80)
      ? async () => (await import('node:fs')).readFileSync(new URL('./help.txt', import.meta.url), 'utf8')
      : null
if (answer) {
  // `lora --version | true` closes the pipe early: that is not an error.
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code !== 'EPIPE') throw error
  })
  process.stdout.write(await answer())
} else {
  const { launch } = await import('../src/launch.js')
  await launch(argv, {
    loadMain: async () => (await import('../src/cli.js')).main,
    crashReport: async () => (await import('../src/cli.js')).crashReport,
  })
}
