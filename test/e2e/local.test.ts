import { afterEach, describe, expect, it } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { BIN, runLora, stackHolder, tempDir } from '../helpers/cli.js'
import { copyMigratedEmbedded } from '../helpers/db.js'
import { connectEmbedded } from '../../src/db/embedded.js'
import type { Db } from '../../src/db/types.js'
import { insertReadyDataset } from '../helpers/stack.js'

const USER = '00000000-0000-4000-8000-00000000a13c'

interface Running {
  child: ChildProcess
  output(): string
  exited: Promise<number | null>
  /** Resolves when the output matches, rejects if the process ends first or the time runs out. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<void>
}

function start(args: string[], cwd: string, env: Record<string, string> = {}): Running {
  const child = spawn(BIN, [...args], { cwd, env: { PATH: process.env.PATH ?? '', HOME: cwd, NO_COLOR: '1', LORA_LOCAL_IDLE: '30s', ...env } })
  let output = ''
  child.stdout!.on('data', (d) => (output += d))
  child.stderr!.on('data', (d) => (output += d))
  const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)))
  let ended = false
  void exited.then(() => (ended = true))
  return {
    child,
    output: () => output,
    exited,
    async waitFor(pattern, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs
      while (!pattern.test(output)) {
        if (ended) throw new Error(`lora ${args.join(' ')} ended before ${pattern}: ${output}`)
        if (Date.now() > deadline) throw new Error(`lora ${args.join(' ')} did not print ${pattern} in ${timeoutMs} ms: ${output}`)
        await new Promise((r) => setTimeout(r, 50))
      }
    },
  }
}

/** A connection to the running service of the stack under `root`, as its clients make one. */
function serviceDb(root: string): Promise<Db> {
  const lock = JSON.parse(readFileSync(join(root, '.lora', 'db', 'db.lock'), 'utf8')) as { socket: string }
  return connectEmbedded(lock.socket)
}

/**
 * A migrated stack under `root` (copied), its service started with `args`, and one
 * ready dataset of USER in its folder storage, written through the service: opening
 * the database in this process instead would cost seconds of WebAssembly start-up.
 */
async function serviceWithDataset(root: string, args: string[], env: Record<string, string>): Promise<Running> {
  mkdirSync(join(root, '.lora', 'storage', 'lora-datasets', USER), { recursive: true })
  writeFileSync(join(root, '.lora', 'storage', 'lora-datasets', USER, 'train.jsonl'), '{"prompt":"a","completion":"b"}\n')
  copyMigratedEmbedded(join(root, '.lora', 'db'))
  const service = start(['local', 'start', '--no-daemon', ...args], root, env)
  await service.waitFor(/other terminals/)
  const db = await serviceDb(root)
  try {
    await insertReadyDataset(db, USER)
  } finally {
    await db.close()
  }
  return service
}

describe('the local service of the embedded stack (the built binary)', () => {
  const cleanups: (() => Promise<void> | void)[] = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  })
  const workspace = () => {
    const d = tempDir('lora-e2e-local-')
    cleanups.push(() => d.remove())
    return d.path
  }
  const track = (running: Running) => {
    cleanups.push(async () => {
      if (running.child.exitCode === null && running.child.signalCode === null) {
        running.child.kill('SIGKILL')
        await running.exited
      }
    })
    return running
  }

  it('finds the stack from a subdirectory, creates none for a read command, and passes `lora health` on a fresh stack', async () => {
    const root = workspace()
    const sub = join(root, 'src', 'deeper')
    mkdirSync(sub, { recursive: true })
    const none = await runLora(['jobs', 'list', '--json'], { cwd: sub })
    expect(none.code).toBe(2)
    expect(none.stdout).toBe('')
    expect(none.stderr.split('\n')[0]).toBe(`error: No lora stack found in ${sub} or any folder above it (looked for .lora/db).`)
    expect(existsSync(join(sub, '.lora'))).toBe(false)
    expect(existsSync(join(root, '.lora'))).toBe(false)

    // Created at the top; the service migrates it and creates its buckets as it starts.
    expect((await runLora(['db', 'migrate'], { cwd: root })).code).toBe(0)
    const health = await runLora(['health', '--json'], { cwd: sub })
    expect(health.stderr).toBe('')
    expect(health.code).toBe(0)
    const checks = JSON.parse(health.stdout).checks as { name: string; status: string }[]
    expect(checks.filter((c) => c.status !== 'ok')).toEqual([])
    const list = await runLora(['jobs', 'list', '--json'], { cwd: sub })
    expect(list).toMatchObject({ code: 0, stderr: '' })
    expect(JSON.parse(list.stdout)).toEqual({ jobs: [] })
    expect(existsSync(join(root, 'src', '.lora'))).toBe(false)
    expect(existsSync(join(sub, '.lora'))).toBe(false)

    const status = await runLora(['local', 'status', '--json'], { cwd: sub })
    expect(JSON.parse(status.stdout)).toMatchObject({ running: true, pid: stackHolder(root), stack: join(root, '.lora'), daemon: true, idle_ms: 30_000 })
  }, 120_000)

  it('runs `lora daemon` and `jobs watch` in either order on one stack: the job completes, the watch exits 0, the daemon keeps running', async () => {
    const root = workspace()
    const env = {}
    // Processing is left to `lora daemon`, as a team that runs it would; its simulator runs at the speed it is given.
    const service = track(await serviceWithDataset(root, ['--speed', '300'], env))
    expect(service.output()).toContain('(the GPU cluster simulator, at 300x: simulated time per real time)')
    const status = await runLora(['local', 'status', '--json'], { cwd: root })
    expect(JSON.parse(status.stdout)).toMatchObject({ running: true, simulator_speed: 300 })
    const second = await runLora(['local', 'start'], { cwd: root })
    expect(second.code).toBe(1)
    expect(second.stderr.split('\n')[0]).toBe(`error: A local service already runs for ${join(root, '.lora')} (pid ${service.child.pid}).`)

    for (const order of ['watch first', 'daemon first'] as const) {
      const submitted = await runLora(['jobs', 'submit', '--dataset', 'support-chats', '--user', USER, '--preset', 'fast', '--yes'], { cwd: root, env })
      expect(submitted.code, submitted.stderr).toBe(0)
      const id = submitted.stdout.trim()
      let daemon: Running | undefined
      if (order === 'daemon first') {
        daemon = track(start(['daemon', '--interval', '500ms'], root, env))
        await daemon.waitFor(/cycle done/)
      }
      const watch = track(start(['jobs', 'watch', id, '--json', '--interval', '300ms'], root, env))
      if (order === 'watch first') {
        await watch.waitFor(/"status":"queued"/)
        daemon = track(start(['daemon', '--interval', '500ms'], root, env))
      }
      expect(await watch.exited, `${order}: ${watch.output()}\n${daemon!.output()}`).toBe(0)
      expect(watch.output()).toContain(`Job ${id} completed`)
      expect(daemon!.child.exitCode, `${order}: ${daemon!.output()}`).toBeNull()
      daemon!.child.kill('SIGTERM')
      expect(await daemon!.exited).toBe(0)
    }
    service.child.kill('SIGINT')
    expect(await service.exited).toBe(0)
    expect(stackHolder(root)).toBeNull()
  }, 180_000)

  it('survives a kill -9 of the service while a daemon and a watch run: both carry on, no committed row is lost, nothing is processed twice', async () => {
    const root = workspace()
    const env = { LORA_SIMULATOR_SPEED: '60' }
    // The jobs are `lora daemon`'s: a service that processed them would take its leases down with it.
    const service = track(await serviceWithDataset(root, [], env))
    const ids: string[] = []
    for (let i = 0; i < 3; i++) {
      const submitted = await runLora(['jobs', 'submit', '--dataset', 'support-chats', '--user', USER, '--preset', 'fast', '--yes'], { cwd: root, env })
      expect(submitted.code, submitted.stderr).toBe(0)
      ids.push(submitted.stdout.trim())
    }
    const first = stackHolder(root)
    expect(first).toBe(service.child.pid)
    const daemon = track(start(['daemon', '--interval', '500ms'], root, env))
    await daemon.waitFor(/cycle done/)
    const watch = track(start(['jobs', 'watch', ids[0]!, '--json', '--interval', '300ms'], root, env))
    await watch.waitFor(/"status":"running"/)

    // Committed the moment before the kill: it must be there after it.
    const last = await runLora(['jobs', 'submit', '--dataset', 'support-chats', '--user', USER, '--preset', 'fast', '--yes'], { cwd: root, env })
    expect(last.code, last.stderr).toBe(0)
    ids.push(last.stdout.trim())
    // The job the watch follows is still training as the service dies.
    expect(watch.child.exitCode, watch.output()).toBeNull()
    process.kill(first!, 'SIGKILL')
    // A replacement comes up, started by whichever client needed it first.
    const deadline = Date.now() + 30_000
    while ((stackHolder(root) ?? first) === first && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100))
    expect(stackHolder(root)).not.toBe(first)
    expect(stackHolder(root)).not.toBeNull()

    expect(await watch.exited, `${watch.output()}\n${daemon.output()}`).toBe(0)
    expect(watch.output()).toContain(`Job ${ids[0]} completed`)
    expect(daemon.child.exitCode).toBeNull()
    // Every job committed before the kill is there and ends (completed by the daemon or
    // by the replacement service, which processes jobs too); each went to the cluster once.
    const until = Date.now() + 90_000
    let jobs: { id: string; status: string; error_message?: string | null }[] = []
    while (Date.now() < until) {
      const list = await runLora(['jobs', 'list', '--json', '--limit', '50'], { cwd: root, env })
      jobs = (JSON.parse(list.stdout) as { jobs: { id: string; status: string }[] }).jobs
      if (ids.every((id) => jobs.find((j) => j.id === id)?.status === 'completed')) break
      await new Promise((r) => setTimeout(r, 250))
    }
    expect(ids.map((id) => jobs.find((j) => j.id === id)?.status), JSON.stringify(jobs.filter((j) => j.status !== 'completed'))).toEqual(['completed', 'completed', 'completed', 'completed'])
    daemon.child.kill('SIGTERM')
    expect(await daemon.exited).toBe(0)

    const db = await serviceDb(root)
    try {
      const costs = await db.query<{ job_id: string; n: number }>(`SELECT job_id, count(*)::int AS n FROM cost_records GROUP BY job_id, cost_type`)
      expect(costs.filter((c) => c.n !== 1)).toEqual([])
      const submissions = await db.query<{ n: number }>(`SELECT count(DISTINCT external_job_id)::int AS n FROM training_jobs WHERE id = ANY($1)`, [ids])
      expect(submissions[0]!.n).toBe(4)
      // The cluster got each job once, across both services' simulators (one state file).
      const simulated = (JSON.parse(readFileSync(join(root, '.lora', 'simulator.json'), 'utf8')) as { jobs: { job_id: string }[] }).jobs
      expect(ids.map((id) => simulated.filter((j) => j.job_id === id).length)).toEqual([1, 1, 1, 1])
    } finally {
      await db.close()
    }
    expect((await runLora(['local', 'stop'], { cwd: root })).code).toBe(0)
  }, 240_000)

  it('stops by itself once idle (--idle), and refuses a bad --idle with one sentence', async () => {
    const root = workspace()
    const bad = await runLora(['local', 'start', '--idle', 'soon'], { cwd: root })
    expect(bad).toEqual({ code: 2, stdout: '', stderr: 'error: Invalid --idle: expected a duration such as 2s, 10m or 7d (got "soon").\n' })
    expect(existsSync(join(root, '.lora'))).toBe(false)

    // A migrated stack (copied): what is tested is the idle stop, not the first migration.
    copyMigratedEmbedded(join(root, '.lora', 'db'))
    const service = track(start(['local', 'start', '--idle', '2s'], root))
    await service.waitFor(/other terminals/)
    await service.waitFor(/embedded stack stopped: idle/, 60_000)
    expect(await service.exited).toBe(0)
    expect(stackHolder(root)).toBeNull()
    const status = await runLora(['local', 'status', '--json'], { cwd: root })
    expect(JSON.parse(status.stdout)).toMatchObject({ running: false, pid: null })
  }, 120_000)
})
