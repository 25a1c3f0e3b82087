// Dataset validation throughput and memory. Generates a 1 GB chat-format JSONL file
// in a temporary folder, then, in the same run and in turns (so that a busy machine
// slows all three alike), times:
//   - lora's validator (validateFile: sha256, every record checked, worker threads),
//   - a plain Node loop: readline over the file, JSON.parse per line,
//   - python3's `for line in open(path): json.loads(line)`,
// each in a process of its own, so that peak RSS is each one's alone. Then the
// validator's peak RSS again on a 2 GB file. It prints figures and ratios and
// asserts nothing; the files are deleted at the end (or on Ctrl-C).
//
//   npm run bench:datasets            BENCH_ROUNDS=5 BENCH_DIR=/mnt/big npm run bench:datasets
import { spawn } from 'node:child_process'
import { cpSync, createReadStream, createWriteStream, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, relative, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { once } from 'node:events'
import { fileURLToPath } from 'node:url'
import { validateFile, defaultThreads } from '../src/datasets/validator.js'
import { generateChatJsonl } from './datasets-generate.js'

const GB = 1024 ** 3
const MB = 1024 ** 2

interface Measure {
  seconds: number
  /** CPU time of the process, all its threads, user + system. */
  cpuSeconds: number
  bytes: number
  maxRssMb: number
  detail?: string
}

async function child(mode: string, file: string): Promise<void> {
  const started = performance.now()
  let detail = ''
  if (mode === 'validate') {
    const report = await validateFile(file)
    if (!report.valid) throw new Error(`the generated file is invalid: ${JSON.stringify(report.errors[0])}`)
    detail = `${report.records} records, ${report.threads} worker thread(s), sha256 ${report.sha256!.slice(0, 12)}…`
  } else {
    let records = 0
    const lines = createInterface({ input: createReadStream(file), crlfDelay: Infinity })
    for await (const line of lines) {
      if (line.length > 0) {
        JSON.parse(line)
        records++
      }
    }
    detail = `${records} records`
  }
  const seconds = (performance.now() - started) / 1000
  const usage = process.resourceUsage()
  const measure: Measure = {
    seconds,
    cpuSeconds: (usage.userCPUTime + usage.systemCPUTime) / 1e6,
    bytes: statSync(file).size,
    maxRssMb: usage.maxRSS / 1024,
    detail,
  }
  process.stdout.write(JSON.stringify(measure))
}

function run(command: string, args: string[]): Promise<Measure> {
  return new Promise((resolve, reject) => {
    const p = spawn(command, args, { stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    p.stdout.on('data', (d) => (out += d))
    p.on('error', reject)
    p.on('close', (code) => {
      if (code !== 0) return reject(new Error(`${command} ${args.join(' ')} exited ${code}`))
      try {
        resolve(JSON.parse(out) as Measure)
      } catch {
        reject(new Error(`${command} printed no measure: ${out}`))
      }
    })
  })
}

const PYTHON = `
import json, sys, time, os, resource
path = sys.argv[1]
t = time.perf_counter()
n = 0
for line in open(path, encoding='utf-8'):
    json.loads(line)
    n += 1
s = time.perf_counter() - t
u = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"seconds": s, "cpuSeconds": u.ru_utime + u.ru_stime, "bytes": os.path.getsize(path), "maxRssMb": u.ru_maxrss / 1024, "detail": f"{n} records"}))
`

let self = fileURLToPath(import.meta.url)
const validator = (file: string) => run(process.execPath, [self, '--child', 'validate', file])
const nodeLoop = (file: string) => run(process.execPath, [self, '--child', 'node-loop', file])

/**
 * The children run from a copy of the built files: another \`npm run build\` in this
 * tree (which empties dist/) must not pull them from under a long run.
 */
function runFromCopy(dir: string): void {
  const dist = resolve(dirname(self), '..')
  const copy = join(dir, 'dist')
  cpSync(dist, copy, { recursive: true })
  writeFileSync(join(dir, 'package.json'), '{"type": "module"}')
  symlinkSync(resolve(dist, '..', 'node_modules'), join(dir, 'node_modules'))
  self = join(copy, relative(dist, self))
}
const python = (file: string) => run('python3', ['-c', PYTHON, file])

const rate = (m: Measure) => m.bytes / MB / m.seconds
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const fmt = (x: number, digits = 0) => x.toFixed(digits)

async function concatTwice(from: string, to: string): Promise<void> {
  const out = createWriteStream(to)
  for (let i = 0; i < 2; i++) {
    for await (const chunk of createReadStream(from, { highWaterMark: 4 * MB })) {
      if (!out.write(chunk)) await once(out, 'drain')
    }
  }
  out.end()
  await once(out, 'finish')
}

async function main(): Promise<void> {
  const rounds = Number(process.env.BENCH_ROUNDS ?? 3)
  const dir = mkdtempSync(join(process.env.BENCH_DIR ?? tmpdir(), 'lora-bench-datasets-'))
  runFromCopy(dir)
  const cleanup = () => rmSync(dir, { recursive: true, force: true })
  process.once('SIGINT', () => {
    cleanup()
    process.exit(130)
  })
  try {
    const oneGb = join(dir, 'chat-1gb.jsonl')
    let t = performance.now()
    const generated = await generateChatJsonl(oneGb, GB)
    console.log(`generated ${oneGb}: ${fmt(generated.bytes / MB)} MB, ${generated.records} chat records, in ${fmt((performance.now() - t) / 1000, 1)} s`)
    console.log(`cores: ${defaultThreads() + 1} (the validator uses ${defaultThreads()} worker thread(s) beside its reading and hashing thread); rounds: ${rounds}`)

    const results: Record<'lora' | 'node' | 'python', Measure[]> = { lora: [], node: [], python: [] }
    for (let round = 1; round <= rounds; round++) {
      for (const [name, fn] of [['lora', validator], ['node', nodeLoop], ['python', python]] as const) {
        const m = await fn(oneGb)
        results[name].push(m)
        console.log(
          `  round ${round} ${name.padEnd(6)} ${fmt(rate(m)).padStart(5)} MB/s  ${fmt(m.seconds, 2).padStart(6)} s  CPU ${fmt(m.cpuSeconds, 2).padStart(6)} s  peak RSS ${fmt(m.maxRssMb).padStart(4)} MB  (${m.detail})`,
        )
      }
    }
    const medianRate = (name: keyof typeof results) => median(results[name].map(rate))
    const lora = medianRate('lora')
    const node = medianRate('node')
    const py = medianRate('python')
    const rss1 = Math.max(...results.lora.map((m) => m.maxRssMb))
    console.log('\n1 GB, median of the rounds:')
    console.log(`  lora validator (sha256 + full checks)   ${fmt(lora).padStart(5)} MB/s   peak RSS ${fmt(rss1)} MB`)
    console.log(`  node readline + JSON.parse per line     ${fmt(node).padStart(5)} MB/s   peak RSS ${fmt(Math.max(...results.node.map((m) => m.maxRssMb)))} MB`)
    console.log(`  python3 json.loads per line             ${fmt(py).padStart(5)} MB/s   peak RSS ${fmt(Math.max(...results.python.map((m) => m.maxRssMb)))} MB`)
    console.log(`  ratio lora / python: ${fmt(lora / py, 2)}x (target >= 1.5x)   lora / node loop: ${fmt(lora / node, 2)}x`)
    const pairwise = results.lora.map((m, i) => rate(m) / rate(results.python[i]!))
    console.log(`  per round lora / python: ${pairwise.map((r) => `${fmt(r, 2)}x`).join(', ')}`)
    // CPU time is less at the mercy of other work on the machine than elapsed time.
    const cpu = (name: keyof typeof results) => median(results[name].map((m) => m.cpuSeconds))
    console.log(
      `  CPU seconds for the 1 GB file (all threads): lora ${fmt(cpu('lora'), 2)}, node loop ${fmt(cpu('node'), 2)}, python ${fmt(cpu('python'), 2)}; python / lora: ${fmt(cpu('python') / cpu('lora'), 2)}x`,
    )

    const twoGb = join(dir, 'chat-2gb.jsonl')
    t = performance.now()
    await concatTwice(oneGb, twoGb)
    rmSync(oneGb)
    console.log(`\n${twoGb}: ${fmt(statSync(twoGb).size / MB)} MB (the 1 GB file twice), in ${fmt((performance.now() - t) / 1000, 1)} s`)
    const big = await validator(twoGb)
    console.log(`  lora validator ${fmt(rate(big))} MB/s, CPU ${fmt(big.cpuSeconds, 2)} s, peak RSS ${fmt(big.maxRssMb)} MB (1 GB: ${fmt(rss1)} MB; target < 150 MB, flat)`)
  } finally {
    cleanup()
  }
}

const childAt = process.argv.indexOf('--child')
if (childAt >= 0) await child(process.argv[childAt + 1]!, process.argv[childAt + 2]!)
else await main()
