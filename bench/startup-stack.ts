// Commands on the embedded stack with its local service running, beside `node -e 0`
// and beside real Postgres, in the same run on the same machine: median wall time,
// peak RSS per command, and the first command on a brand-new stack. Not a test.
import { spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { loadavg, tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { startPgServer } from '../test/helpers/pg-server.js'

const bin = fileURLToPath(new URL('../../bin/lora', import.meta.url))
const runs = Number(process.env.RUNS ?? 10)
const work = mkdtempSync(join(tmpdir(), 'lora-bench-startup-'))
// The peak RSS of a command comes from GNU time (Linux), which reads it from the
// kernel: a preload through NODE_OPTIONS would change how lora starts (bin/lora
// starts from the module entry when NODE_OPTIONS is set).
const gnuTime = existsSync('/usr/bin/time') ? '/usr/bin/time' : null
const rssFile = join(work, 'rss')

interface Run {
  stderr: string
  ms: number
  status: number | null
  rssMb: number
}

/** Runs [program, ...args]: node itself, or lora as a user starts it (bin/lora, which starts node). */
function once(command: string[], cwd: string, env: Record<string, string>, withRss: boolean): Run {
  const [program, ...args] = withRss && gnuTime ? [gnuTime, '-f', '%M', '-o', rssFile, ...command] : command
  const start = process.hrtime.bigint()
  const r = spawnSync(program!, args, {
    cwd,
    env: { PATH: process.env.PATH ?? '', HOME: cwd, NO_COLOR: '1', ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  const rss = withRss && gnuTime ? Number(readFileSync(rssFile, 'utf8').trim().split('\n').pop()) / 1024 : NaN
  return { ms, status: r.status, rssMb: rss, stderr: String(r.stderr ?? '') }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!

/** Median wall time over `runs` runs (after one to warm the caches), and the largest peak RSS of `runs` more. */
function measure(args: string[], cwd: string, env: Record<string, string> = {}, expect: number | null = 0) {
  const warm = once(args, cwd, env, false)
  if (expect !== null && warm.status !== expect) throw new Error(`${args.join(' ')} exited ${warm.status}: ${warm.stderr}`)
  const times = Array.from({ length: runs }, () => once(args, cwd, env, false).ms)
  const rss = Array.from({ length: Math.min(runs, 5) }, () => once(args, cwd, env, true).rssMb)
  return { ms: median(times), rssMb: Math.max(...rss) }
}

const lora = (...args: string[]) => [bin, ...args]
const run = (args: string[], options: { cwd: string; env?: NodeJS.ProcessEnv }) => spawnSync(args[0]!, args.slice(1), options)
const rows: [string, number, number | null][] = []
const baseline = measure([process.execPath, '-e', '0'], work)
rows.push(['node -e 0', baseline.ms, baseline.rssMb])

// The first command on a brand-new stack: it starts the service, which creates and
// migrates the database and creates the buckets, then answers.
const firsts: number[] = []
let stack = ''
for (let i = 0; i < 3; i++) {
  if (stack) run(lora('local', 'stop'), { cwd: stack })
  stack = mkdtempSync(join(work, 'stack-'))
  const r = once(lora('db', 'migrate'), stack, { LORA_LOCAL_IDLE: '10m' }, false)
  if (r.status !== 0) throw new Error(`db migrate on a new stack exited ${r.status}: ${r.stderr}`)
  firsts.push(r.ms)
}
const first = median(firsts)
// bin/lora hands these to the service (src/local-commands.ts); run by lora itself
// (LORA_NO_FORWARD=1) beside them, as when the service does not take a command.
const list = measure(lora('jobs', 'list', '--json'), stack)
const health = measure(lora('health', '--json'), stack)
const itself = { LORA_NO_FORWARD: '1' }
const listItself = measure(lora('jobs', 'list', '--json'), stack, itself)
const healthItself = measure(lora('health', '--json'), stack, itself)
// The commands handed over ran in the service: its memory is theirs too.
const servicePid = JSON.parse(readFileSync(join(stack, '.lora', 'db', 'db.lock'), 'utf8')).pid as number
const serviceRssMb = Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${servicePid}/status`, 'utf8'))?.[1] ?? NaN) / 1024
run(lora('local', 'stop'), { cwd: stack })
rows.push(['embedded: first command on a new stack (db migrate)', first, null])
rows.push(['embedded: jobs list --json', list.ms, list.rssMb])
rows.push(['embedded: health --json', health.ms, health.rssMb])
rows.push(['embedded, run by lora itself: jobs list --json', listItself.ms, listItself.rssMb])
rows.push(['embedded, run by lora itself: health --json', healthItself.ms, healthItself.rssMb])

const pg = await startPgServer()
let pgList: { ms: number; rssMb: number } | null = null
if (pg) {
  const env = { DATABASE_URL: pg.url, LORA_STORAGE_DIR: join(work, 'pg-storage'), GPU_CLUSTER_API_URL: 'simulator' }
  run(lora('db', 'migrate'), { cwd: work, env: { ...process.env, ...env } })
  pgList = measure(lora('jobs', 'list', '--json'), work, env)
  // Health exits 1 there (no daemon has run): the time is what matters.
  const pgHealth = measure(lora('health', '--json'), work, env, null)
  rows.push(['postgres: jobs list --json', pgList.ms, pgList.rssMb])
  rows.push(['postgres: health --json', pgHealth.ms, pgHealth.rssMb])
  await pg.destroy()
}
rmSync(work, { recursive: true, force: true })

console.log(`median of ${runs} runs each (first command: median of 3 new stacks); peak RSS: the largest of 5 runs`)
const snapshot = existsSync(fileURLToPath(new URL('../../dist/lora.blob', import.meta.url)))
console.log(`load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}; lora started from ${snapshot ? 'its startup snapshot (dist/lora.blob)' : 'dist/lora.js (no startup snapshot)'}`)
for (const [name, ms, rss] of rows) {
  console.log(`${name.padEnd(52)} ${ms.toFixed(0).padStart(6)} ms  ratio ${(ms / baseline.ms).toFixed(2).padStart(5)}${rss === null ? '' : `   peak RSS ${rss.toFixed(0).padStart(4)} MB`}`)
}
const targets: [string, boolean][] = [
  [`jobs list --json within 3 x node -e 0 (${(list.ms / baseline.ms).toFixed(2)})`, list.ms <= 3 * baseline.ms],
  [`jobs list --json peak RSS under 100 MB (${list.rssMb.toFixed(0)} MB)`, list.rssMb < 100],
  [`health --json under 500 ms (${health.ms.toFixed(0)} ms)`, health.ms < 500],
  [`first command on a new stack under 6 s (${(first / 1000).toFixed(2)} s)`, first < 6000],
]
for (const [what, met] of targets) console.log(`target: ${what}: ${met ? 'meets it' : 'MISSES it'}`)
console.log(`the local service that ran the commands handed over (it also created and migrated the stack): RSS ${serviceRssMb.toFixed(0)} MB after the runs`)
