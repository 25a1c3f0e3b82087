// `npm test` after the build: the type-check and the suite at once. The suite spends
// part of its time waiting on child processes and databases, so the type-check's
// CPU costs it little; run one after the other they added up. Exits non-zero if
// either fails; the type-check's findings are printed after the suite's report.
// Arguments go to vitest (`npm test -- test/lockfile.test.ts`).
import { spawn } from 'node:child_process'
import { createRequire } from 'node:module'
import { setPriority } from 'node:os'

const require = createRequire(import.meta.url)
const bin = (pkg, name) => require.resolve(`${pkg}/${name}`)

const children = []
function run(args, options) {
  const child = spawn(process.execPath, args, options)
  children.push(child)
  const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve(code ?? (signal ? 1 : 0))))
  return { child, exited }
}

for (const signal of ['SIGINT', 'SIGTERM']) {
  process.on(signal, () => {
    for (const child of children) child.kill(signal)
  })
}

let tscOutput = ''
const tsc = run([bin('typescript', 'bin/tsc'), '--noEmit'], { stdio: ['ignore', 'pipe', 'pipe'] })
// Below the suite's priority: the suite's tests wait on real time, the type-check
// does not (151 s for both at once, 161 s at the same priority, on 2 cores).
try {
  if (tsc.child.pid !== undefined) setPriority(tsc.child.pid, 15)
} catch {
  // It has ended already: nothing to yield to.
}
for (const stream of [tsc.child.stdout, tsc.child.stderr]) stream.on('data', (chunk) => (tscOutput += chunk))
const vitest = run([bin('vitest', 'vitest.mjs'), 'run', ...process.argv.slice(2)], { stdio: 'inherit' })

const [typeCheck, suite] = await Promise.all([tsc.exited, vitest.exited])
if (typeCheck !== 0) process.stderr.write(`\n${tscOutput}\ntype-check (tsc --noEmit) failed: exit ${typeCheck}\n`)
else process.stdout.write('type-check (tsc --noEmit): no errors\n')
process.exitCode = typeCheck !== 0 ? typeCheck : suite
