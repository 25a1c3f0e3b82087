import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { spawn, spawnSync, type ChildProcessWithoutNullStreams } from 'node:child_process'
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { build } from 'esbuild'
import { tempDir } from './helpers/cli.js'
import { recordAlive, tryLock } from '../src/lockfile.js'

const WORKERS = 20
const ROUNDS = 50

/** A pid that was alive a moment ago and is not any more. */
function deadPid(): number {
  return Number(spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))']).stdout.toString())
}

/** The stale locks a crash can leave: ours, an earlier version's record, a bare pid, an empty file. */
function staleLock(round: number, pid: number): string {
  switch (round % 4) {
    case 0:
      return JSON.stringify({ pid, token: `dead${round}`, since: new Date().toISOString() })
    case 1:
      return JSON.stringify({ pid, since: new Date().toISOString() })
    case 2:
      return String(pid)
    default:
      return ''
  }
}

describe('lock files: exactly one owner, whatever the race', () => {
  const dir = tempDir('lora-lock-')
  const workers: { child: ChildProcessWithoutNullStreams; next(): Promise<string> }[] = []

  beforeAll(async () => {
    const bundle = join(dir.path, 'lock-worker.mjs')
    await build({
      entryPoints: [new URL('./helpers/lock-worker.ts', import.meta.url).pathname],
      outfile: bundle,
      bundle: true,
      format: 'esm',
      platform: 'node',
      packages: 'external',
      logLevel: 'warning',
    })
    for (let i = 0; i < WORKERS; i++) {
      const child = spawn(process.execPath, [bundle], { cwd: new URL('..', import.meta.url).pathname, stdio: ['pipe', 'pipe', 'pipe'] })
      const lines: string[] = []
      const waiting: ((line: string) => void)[] = []
      let exited = false
      createInterface({ input: child.stdout }).on('line', (line) => (waiting.shift() ?? ((l: string) => lines.push(l)))(line))
      child.on('exit', () => {
        exited = true
        for (const w of waiting.splice(0)) w('exited')
      })
      workers.push({
        child,
        next: () => (lines.length ? Promise.resolve(lines.shift()!) : exited ? Promise.resolve('exited') : new Promise((r) => waiting.push(r))),
      })
    }
  })

  afterAll(async () => {
    for (const w of workers) w.child.kill('SIGKILL')
    await Promise.all(workers.map((w) => (w.child.exitCode !== null || w.child.signalCode !== null ? null : new Promise((r) => w.child.on('exit', r)))))
    dir.remove()
  })

  for (const kind of ['db', 'partial'] as const) {
    it(`${WORKERS} processes starting at once on a stale ${kind === 'db' ? 'database' : 'partial-upload'} lock: exactly one owner, ${ROUNDS} times`, async () => {
      const lock = join(dir.path, `${kind}.lock`)
      const dead = deadPid()
      for (let round = 0; round < ROUNDS; round++) {
        writeFileSync(lock, staleLock(round, dead))
        for (const w of workers) w.child.stdin.write(`go ${kind} ${lock}\n`)
        const answers = await Promise.all(workers.map((w) => w.next()))
        const owners = answers.flatMap((a, i) => (a === 'owner' ? [i] : []))
        expect({ round, owners: owners.length, others: answers.filter((a) => a !== 'owner' && a !== 'busy') }).toEqual({ round, owners: 1, others: [] })
        const owner = workers[owners[0]!]!
        expect(JSON.parse(readFileSync(lock, 'utf8')).pid).toBe(owner.child.pid)
        owner.child.stdin.write('release\n')
        expect(await owner.next()).toBe('released')
        expect(existsSync(lock)).toBe(false)
      }
      // Nothing is left beside the lock: no claims, no temporary files.
      expect(readdirSync(dir.path).filter((f) => f.startsWith(`${kind}.lock`))).toEqual([])
    }, 120_000)
  }

  it('lets one holder release while another of the same process takes the lock, without an error', async () => {
    // Two uploads of the same content in one process: one releases the partial's lock
    // as the other tries it. The taker must see a held lock or take a free one; it used
    // to fail with ENOENT when the release removed the file under its take-over.
    const lock = join(dir.path, 'handover.lock')
    const outcomes = { acquired: 0, held: 0 }
    for (let round = 0; round < 300; round++) {
      const first = await tryLock(lock, { what: 'first' })
      expect(first.acquired).toBe(true)
      if (!first.acquired) return
      // The release starts at a varying point of the other's attempt.
      const delay = round % 7
      const later = async () => {
        for (let i = 0; i < delay; i++) await new Promise((resolve) => setImmediate(resolve))
        await first.release()
      }
      const [second] = await Promise.all([tryLock(lock, { what: 'second' }), later()])
      if (second.acquired) {
        outcomes.acquired += 1
        await second.release()
      } else outcomes.held += 1
      expect(existsSync(lock)).toBe(false)
    }
    expect(outcomes.acquired + outcomes.held).toBe(300)
  })

  it('never takes a live holder\'s lock, and releases only its own', async () => {
    const lock = join(dir.path, 'live.lock')
    const first = await tryLock(lock, { what: 'first' })
    expect(first.acquired).toBe(true)
    const second = await tryLock(lock, { what: 'second' })
    expect(second).toMatchObject({ acquired: false, holder: { pid: process.pid, what: 'first' } })
    if (!first.acquired) return
    expect(recordAlive(first.record)).toBe(true)
    await first.release()
    expect(recordAlive(first.record)).toBe(false)
    // Our own pid in a lock we no longer hold is stale (a reused pid looks the same).
    writeFileSync(lock, JSON.stringify({ ...first.record }))
    const third = await tryLock(lock, { what: 'third' })
    expect(third.acquired).toBe(true)
    if (third.acquired) await third.release()
    expect(existsSync(lock)).toBe(false)
  })
})
