import { afterEach, describe, expect, it } from 'vitest'
import { spawn } from 'node:child_process'
import { createServer, type Server, type Socket } from 'node:net'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { BIN, tempDir } from '../helpers/cli.js'
import { FORWARDED, frame } from '../../src/local-commands.js'

const CLIENT = join(BIN, '..', '..', 'dist', 'forward.cjs')

/** Runs the built client of the command socket on `socketPath`; `onSpawn` may signal it. */
function runClient(socketPath: string, argv: string[], cwd: string, onSpawn?: (pid: number) => void): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLIENT, socketPath, ...argv], { cwd, env: { PATH: process.env.PATH ?? '', HOME: cwd, NO_COLOR: '1' } })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, stdout, stderr }))
    onSpawn?.(child.pid!)
  })
}

describe('which commands bin/lora hands to the service', () => {
  it('are the ones the service runs: the launcher lists them again, in sh', () => {
    const launcher = readFileSync(BIN, 'utf8')
    const list = /case "\$w1 \$w2" in\n\s*(.+)\)\n/.exec(launcher)
    expect(list).not.toBeNull()
    const listed = list![1]!.split('|').map((c) => c.trim().replace(/^"|"$/g, '').replace(/ "\*$/, '').replace(/ $/, ''))
    expect(new Set(listed)).toEqual(FORWARDED)
  })
})

describe('the client of the command socket (dist/forward.cjs) against a stand-in service that checks what it receives', () => {
  const cleanups: (() => Promise<void> | void)[] = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  })

  /** A stand-in service on a socket in a fresh folder; `serve` answers each connection. */
  async function standIn(serve: (socket: Socket, request: Record<string, unknown>) => void) {
    const dir = tempDir('lora-forward-')
    const socketPath = join(dir.path, 'cli.sock')
    const requests: Record<string, unknown>[] = []
    const closed: Promise<void>[] = []
    const server: Server = createServer((socket) => {
      closed.push(new Promise((resolve) => socket.on('close', () => resolve())))
      let text = ''
      socket.on('data', (d) => {
        text += d
        if (!text.includes('\n')) return
        const request = JSON.parse(text.slice(0, text.indexOf('\n'))) as Record<string, unknown>
        requests.push(request)
        serve(socket, request)
      })
    })
    await new Promise<void>((resolve) => server.listen(socketPath, () => resolve()))
    cleanups.push(async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()))
      dir.remove()
    })
    return { socketPath, cwd: dir.path, requests, closed }
  }

  it('sends the command line, working directory, environment and streams; prints what comes back in order; exits with its code', async () => {
    const service = await standIn((socket) => {
      socket.write(Buffer.concat([frame('o', 'one\n'), frame('e', 'warning: two\n'), frame('o', 'three\n')]))
      socket.end(frame('x', '3'))
    })
    const result = await runClient(service.socketPath, ['jobs', 'list', '--json'], service.cwd)
    expect(result).toEqual({ code: 3, stdout: 'one\nthree\n', stderr: 'warning: two\n' })
    expect(service.requests).toHaveLength(1)
    expect(service.requests[0]).toMatchObject({
      argv: ['jobs', 'list', '--json'],
      cwd: service.cwd,
      env: { HOME: service.cwd, NO_COLOR: '1' },
      stdout: { isTTY: false },
      stderr: { isTTY: false },
    })
    expect(service.requests[0]!.build).toMatch(/^\d+\.\d+\.\d+\+/)
  })

  it('runs the command itself when the service refuses it or closes before any output', async () => {
    const refusing = await standIn((socket) => socket.end(frame('r', 'another build of lora')))
    const version = await runClient(refusing.socketPath, ['version', '--json'], refusing.cwd)
    expect(version.code).toBe(0)
    expect(JSON.parse(version.stdout)).toMatchObject({ version: expect.any(String) })
    const closing = await standIn((socket) => socket.destroy())
    expect((await runClient(closing.socketPath, ['version', '--json'], closing.cwd)).stdout).toBe(version.stdout)
    // No service at all on the socket's path: the same.
    expect((await runClient(join(closing.cwd, 'gone.sock'), ['version', '--json'], closing.cwd)).stdout).toBe(version.stdout)
  })

  it('says so, exit 1, when the service stops after part of the output: nothing is run twice', async () => {
    const service = await standIn((socket) => {
      socket.write(frame('o', 'part\n'))
      setTimeout(() => socket.destroy(), 50)
    })
    expect(await runClient(service.socketPath, ['jobs', 'list'], service.cwd)).toEqual({
      code: 1,
      stdout: 'part\n',
      stderr: 'error: the local service stopped during this command; run it again.\n',
    })
  })

  it('exits 130 on Ctrl-C and closes its connection, which interrupts the command in the service', async () => {
    let received!: () => void
    const asked = new Promise<void>((resolve) => (received = resolve))
    const service = await standIn(() => received())
    let pid = 0
    const result = runClient(service.socketPath, ['health'], service.cwd, (p) => (pid = p))
    // A client that dies before asking fails the test at once, with what it said.
    await Promise.race([asked, result.then((r) => Promise.reject(new Error(`the client ended before asking: ${JSON.stringify(r)}`)))])
    process.kill(pid, 'SIGINT')
    expect((await result).code).toBe(130)
    await service.closed[0]
  })
})
