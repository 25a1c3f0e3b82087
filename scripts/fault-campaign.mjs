// The long fault campaign: the fault tests (daemons killed with SIGKILL, Postgres
// restarted under a daemon, the local service killed with kill -9) run over and over,
// optionally beside processes that keep the CPU busy, and the green runs are counted.
// The suite runs a few rounds of each campaign; this runs the long ones.
//
//   npm run test:faults -- [--runs 20] [--rounds 20] [--hog 2] [--stop-on-failure]
//
// --runs     how many times the files run, one after the other (default 20)
// --rounds   LORA_FAULT_ROUNDS: database restarts and (at least) daemon kills per run (default 20)
// --hog      busy-looping processes beside the tests, ended however the campaign ends (default 0)
// A failed run's output is kept in a file and its seeds are printed: LORA_TEST_SEED=N replays one.
import { spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const FILES = ['test/daemon/faults.test.ts', 'test/e2e/local.test.ts']

function parse(argv) {
  const options = { runs: 20, rounds: 20, hog: 0, stopOnFailure: false }
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i]
    if (flag === '--stop-on-failure') {
      options.stopOnFailure = true
      continue
    }
    const key = { '--runs': 'runs', '--rounds': 'rounds', '--hog': 'hog' }[flag]
    const value = Number(argv[++i])
    if (!key || !Number.isInteger(value) || value < 0) {
      process.stderr.write(`error: expected --runs N, --rounds N, --hog N or --stop-on-failure, got ${JSON.stringify(flag)} ${JSON.stringify(argv[i] ?? '')}.\n`)
      process.exit(2)
    }
    options[key] = value
  }
  return options
}

const options = parse(process.argv.slice(2))
const hogs = []
const endHogs = () => {
  for (const hog of hogs.splice(0)) hog.kill('SIGKILL')
}
// The hogs end with the campaign, whatever ends it.
process.on('exit', endHogs)
for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) {
  process.on(signal, () => {
    endHogs()
    process.exit(130)
  })
}

function run(command, args, env) {
  return new Promise((resolve) => {
    const child = spawn(command, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (d) => (output += d))
    child.stderr.on('data', (d) => (output += d))
    child.on('close', (code) => resolve({ code, output }))
  })
}

// The end-to-end tests run the built binary.
const built = await run('npm', ['run', 'build'], {})
if (built.code !== 0) {
  process.stderr.write(built.output)
  process.exit(1)
}
for (let i = 0; i < options.hog; i++) hogs.push(spawn(process.execPath, ['-e', 'for(;;){}'], { stdio: 'ignore' }))

const logs = mkdtempSync(join(tmpdir(), 'lora-fault-campaign-'))
process.stdout.write(`fault campaign: ${options.runs} run(s) of ${FILES.join(' ')}, LORA_FAULT_ROUNDS=${options.rounds}, ${options.hog} CPU hog(s)\n`)
let green = 0
let ran = 0
const started = Date.now()
for (let i = 1; i <= options.runs; i++) {
  const t = Date.now()
  const { code, output } = await run('npx', ['vitest', 'run', ...FILES], { LORA_FAULT_ROUNDS: String(options.rounds) })
  ran += 1
  const seconds = ((Date.now() - t) / 1000).toFixed(1)
  const tests = /^\s+Tests\s+(.*)$/m.exec(output)?.[1]?.trim() ?? 'no summary'
  if (code === 0) {
    green += 1
    process.stdout.write(`run ${i}: green in ${seconds} s (${tests})\n`)
  } else {
    const file = join(logs, `run-${i}.log`)
    writeFileSync(file, output)
    const seeds = [...output.matchAll(/^(.*): seed (\d+)/gm)].map((m) => `${m[1]} ${m[2]}`).join(', ')
    process.stdout.write(`run ${i}: FAILED in ${seconds} s (${tests}); seeds: ${seeds || 'none printed'}; output in ${file}\n`)
    if (options.stopOnFailure) break
  }
}
endHogs()
process.stdout.write(`fault campaign: ${green} green of ${ran} run(s) in ${((Date.now() - started) / 1000).toFixed(0)} s\n`)
process.exitCode = green === ran ? 0 : 1
