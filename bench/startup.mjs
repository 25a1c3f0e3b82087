// Median wall time of `lora --version` and `lora --help` beside `node -e 0`,
// measured in the same run on the same machine. Not a test: run by hand.
import { spawnSync } from 'node:child_process'
import { loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'

const bin = fileURLToPath(new URL('../bin/lora', import.meta.url))
const runs = Number(process.env.RUNS ?? 30)

function median(cmd, args) {
  const times = []
  spawnSync(cmd, args) // warm the file cache
  for (let i = 0; i < runs; i++) {
    const start = process.hrtime.bigint()
    const r = spawnSync(cmd, args, { stdio: 'ignore' })
    const ms = Number(process.hrtime.bigint() - start) / 1e6
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}`)
    times.push(ms)
  }
  times.sort((a, b) => a - b)
  return times[Math.floor(times.length / 2)]
}

const baseline = median(process.execPath, ['-e', '0'])
// lora as a user starts it: bin/lora, which starts node.
const version = median(bin, ['--version'])
const help = median(bin, ['--help'])
// A help that the full parser renders (no pre-rendered copy), for comparison.
const groupHelp = median(bin, ['db', '--help'])
const row = (name, ms) => `${name.padEnd(16)} ${ms.toFixed(1).padStart(7)} ms   ratio ${(ms / baseline).toFixed(2)}`
console.log(`median of ${runs} runs each; load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}`)
console.log(row('node -e 0', baseline))
console.log(row('lora --version', version))
console.log(row('lora --help', help))
console.log(row('lora db --help', groupHelp))
const worst = Math.max(version, help) / baseline
console.log(`target: ratio <= 1.30; worst ${worst.toFixed(2)} ${worst <= 1.3 ? 'meets it' : 'MISSES it'}`)
