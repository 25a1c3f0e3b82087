import { afterEach, describe, expect, it } from 'vitest'
import { spawn, type ChildProcess } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { createConnection } from 'node:net'
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

/** Sends `request` on the command socket; the frames of the answer, until the service closes. */
function askSocket(socketPath: string, request: string): Promise<{ type: string; payload: string }[]> {
  return new Promise((resolve, reject) => {
    const socket = createConnection(socketPath)
    const chunks: Buffer[] = []
    socket.on('data', (d: Buffer) => chunks.push(d))
    socket.on('error', (error: NodeJS.ErrnoException) => (error.code === 'EPIPE' || error.code === 'ECONNRESET' ? undefined : reject(error)))
    socket.on('close', () => {
      const frames: { type: string; payload: string }[] = []
      let all = Buffer.concat(chunks)
      while (all.length >= 5) {
        const length = all.readUInt32BE(1)
        frames.push({ type: String.fromCharCode(all[0]!), payload: all.subarray(5, 5 + length).toString('utf8') })
        all = all.subarray(5 + length)
      }
      resolve(frames)
    })
    socket.write(request)
  })
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

  it('runs the read commands of its stack for bin/lora: the same output and exit code as lora running them itself; anything else is refused and run by the caller', async () => {
    const root = workspace()
    const sub = join(root, 'deeper')
    mkdirSync(sub)
    const service = track(await serviceWithDataset(root, [], {}))
    const socketPath = join(root, '.lora', 'db', 'cli.sock')
    expect(statSync(socketPath).isSocket()).toBe(true)
    expect(statSync(socketPath).mode & 0o777).toBe(0o600)
    expect(JSON.parse((await runLora(['local', 'status', '--json'], { cwd: sub })).stdout)).toMatchObject({ running: true, command_socket: socketPath })

    // Handed over (bin/lora finds the socket from a subdirectory too) and run by lora itself: the same.
    for (const argv of [['jobs', 'list', '--json'], ['datasets', 'list'], ['jobs', 'list', '--limit', 'x'], ['jobs', 'show', 'nope'], ['budget', 'show', '--json']]) {
      const handed = await runLora(argv, { cwd: sub })
      const itself = await runLora(argv, { cwd: sub, env: { LORA_NO_FORWARD: '1' } })
      expect(handed, argv.join(' ')).toEqual(itself)
    }
    expect(JSON.parse((await runLora(['datasets', 'list', '--json'], { cwd: root })).stdout).datasets).toHaveLength(1)
    // The service ran them: a lora of nothing but the launcher and the client answers the same.
    const bare = workspace()
    mkdirSync(join(bare, 'bin'))
    mkdirSync(join(bare, 'dist'))
    cpSync(BIN, join(bare, 'bin', 'lora'))
    cpSync(join(BIN, '..', '..', 'dist', 'forward.cjs'), join(bare, 'dist', 'forward.cjs'))
    const onlyClient = await runLora(['datasets', 'list', '--json'], { cwd: sub, bin: join(bare, 'bin', 'lora') })
    expect(onlyClient).toEqual(await runLora(['datasets', 'list', '--json'], { cwd: sub, env: { LORA_NO_FORWARD: '1' } }))
    expect((await runLora(['jobs', 'submit', '--help'], { cwd: sub, bin: join(bare, 'bin', 'lora') })).code).not.toBe(0)
    // Several at once, each with its own output.
    const together = await Promise.all(['jobs', 'datasets'].flatMap((what) => Array.from({ length: 4 }, () => runLora([what, 'list', '--json'], { cwd: sub }))))
    expect(together.map((r) => [r.code, r.stderr, Object.keys(JSON.parse(r.stdout))[0]])).toEqual([...Array(4).fill([0, '', 'jobs']), ...Array(4).fill([0, '', 'datasets'])])
    // Health measures latencies: the checks and their verdicts are the same.
    const verdicts = async (env: Record<string, string>) => {
      const r = await runLora(['health', '--json'], { cwd: root, env })
      return { code: r.code, stderr: r.stderr, checks: (JSON.parse(r.stdout).checks as { name: string; status: string }[]).map((c) => `${c.name} ${c.status}`) }
    }
    const health = await verdicts({})
    expect(health.checks.length).toBeGreaterThan(3)
    expect(health).toEqual(await verdicts({ LORA_NO_FORWARD: '1' }))

    // The service's own answers, asked the way bin/forward.ts asks.
    const build = /build: "([^"]+)"/.exec(readFileSync(join(BIN, '..', '..', 'dist', 'forward.cjs'), 'utf8'))
    expect(build).not.toBeNull()
    const request = (over: Record<string, unknown>) =>
      `${JSON.stringify({ build: build![1], argv: ['jobs', 'list', '--json'], cwd: root, env: { HOME: root, PATH: process.env.PATH ?? '' }, stdout: { isTTY: false }, stderr: { isTTY: false }, ...over })}\n`
    const ran = await askSocket(socketPath, request({}))
    expect(ran.map((f) => f.type)).toEqual(['o', 'x'])
    expect(JSON.parse(ran[0]!.payload)).toEqual({ jobs: [] })
    expect(ran[1]!.payload).toBe('0')
    expect(await askSocket(socketPath, request({ build: 'another' }))).toEqual([{ type: 'r', payload: 'another build of lora' }])
    expect(await askSocket(socketPath, request({ argv: ['jobs', 'cancel', 'abcd', '--yes'] }))).toEqual([{ type: 'r', payload: 'not a command the service runs' }])
    expect(await askSocket(socketPath, request({ argv: ['--profile', 'x', 'jobs', 'list'] }))).toEqual([{ type: 'r', payload: 'a profile or database given on the command line' }])
    expect(await askSocket(socketPath, request({ env: { HOME: root, DATABASE_URL: `embedded:${join(root, 'other')}` } }))).toEqual([{ type: 'r', payload: 'another stack' }])
    expect(await askSocket(socketPath, 'not json\n')).toEqual([{ type: 'r', payload: 'a request lora cannot read' }])
    // A request without its end is dropped past a megabyte; the service carries on.
    expect(await askSocket(socketPath, 'x'.repeat(2 << 20))).toEqual([])
    expect((await askSocket(socketPath, request({}))).map((f) => f.type)).toEqual(['o', 'x'])

    // Refused by the service (the environment names another stack): the caller runs it, with the same result.
    const elsewhere = { DATABASE_URL: `embedded:${join(root, 'other')}` }
    const refused = await runLora(['jobs', 'list', '--json'], { cwd: root, env: elsewhere })
    expect(refused.code).toBe(2)
    expect(refused).toEqual(await runLora(['jobs', 'list', '--json'], { cwd: root, env: { ...elsewhere, LORA_NO_FORWARD: '1' } }))

    // A service killed with its socket left behind: the command runs, and starts a service again.
    service.child.kill('SIGKILL')
    await service.exited
    expect(existsSync(socketPath)).toBe(true)
    const after = await runLora(['jobs', 'list', '--json'], { cwd: sub })
    expect(after).toMatchObject({ code: 0, stderr: '' })
    expect(JSON.parse(after.stdout)).toEqual({ jobs: [] })
    await runLora(['local', 'stop'], { cwd: root })
    expect(existsSync(socketPath)).toBe(false)
    expect(JSON.parse((await runLora(['local', 'status', '--json'], { cwd: sub })).stdout)).toMatchObject({ running: false, command_socket: null })
  }, 120_000)

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
