import { spawn } from 'node:child_process'
import { chmodSync, copyFileSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { BIN, runLora, tempDir } from '../helpers/cli.js'

/**
 * bin/lora starts node from the startup snapshot (dist/lora.blob) when the node on
 * PATH built it, and from dist/lora.js otherwise. Which one runs is read from the
 * command line of the process, which is node itself (the launcher execs it).
 */
const ROOT = join(dirname(BIN), '..')

interface Simulated {
  cmdline: string[]
  code: number | null
  stdout: string
}

/**
 * `lora cluster simulate` through `launcher`: the command line of its process, then its
 * exit code after `signal` (the simulator stops on Ctrl-C or SIGTERM and exits 0; a
 * signal that only reached a shell in between would leave it running).
 */
function simulate(launcher: string, cwd: string, signal: NodeJS.Signals, env: Record<string, string> = {}): Promise<Simulated> {
  return new Promise((resolve, reject) => {
    const child = spawn(launcher, ['cluster', 'simulate', '--port', '0'], { cwd, env: { PATH: process.env.PATH ?? '', HOME: cwd, NO_COLOR: '1', ...env } })
    let stdout = ''
    let stderr = ''
    let cmdline: string[] = []
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`the simulator did not start: ${stderr}`))
    }, 30_000)
    child.stderr.on('data', (d) => (stderr += d))
    child.stdout.on('data', (d) => {
      stdout += d
      if (cmdline.length === 0 && stdout.includes('\n')) {
        cmdline = readFileSync(`/proc/${child.pid}/cmdline`, 'utf8').split('\0').slice(0, -1)
        child.kill(signal)
      }
    })
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ cmdline, code, stdout })
    })
  })
}

/** An installation of lora in `dir` that shares this one's build, but with its own launcher and snapshot files. */
function install(dir: string, snapshot: 'same' | 'missing'): string {
  mkdirSync(join(dir, 'bin'), { recursive: true })
  mkdirSync(join(dir, 'dist'))
  copyFileSync(BIN, join(dir, 'bin', 'lora'))
  chmodSync(join(dir, 'bin', 'lora'), 0o755)
  for (const name of ['lora.js', 'chunks', 'help.txt', ...(snapshot === 'same' ? ['lora.blob', 'lora.blob.node'] : [])]) {
    symlinkSync(join(ROOT, 'dist', name), join(dir, 'dist', name))
  }
  return join(dir, 'bin', 'lora')
}

describe('the launcher bin/lora (the built binary)', () => {
  const dirs: { remove(): void }[] = []
  afterEach(() => {
    for (const d of dirs.splice(0)) d.remove()
  })
  const dir = () => {
    const d = tempDir('lora-launcher-')
    dirs.push(d)
    return d.path
  }

  it('starts from the snapshot built by the node on PATH, also through a link; Ctrl-C and SIGTERM reach the command (the simulator stops, exit 0)', async () => {
    const cwd = dir()
    const viaSnapshot = await simulate(BIN, cwd, 'SIGINT')
    expect(viaSnapshot.cmdline.slice(1, 3)).toEqual(['--snapshot-blob', `${dirname(BIN)}/../dist/lora.blob`])
    expect(viaSnapshot.stdout).toMatch(/^http:\/\/127\.0\.0\.1:\d+\n/)
    expect(viaSnapshot.code).toBe(0)

    // npm installs the launcher as a link in node_modules/.bin.
    mkdirSync(join(cwd, '.bin'))
    symlinkSync(BIN, join(cwd, '.bin', 'lora'))
    const viaLink = await simulate(join(cwd, '.bin', 'lora'), cwd, 'SIGTERM')
    expect(viaLink.cmdline[1]).toBe('--snapshot-blob')
    expect(viaLink.code).toBe(0)
  })

  it('starts from dist/lora.js when there is no snapshot, the node on PATH did not build it, or NODE_OPTIONS is set; the same answers and exit codes', async () => {
    const cwd = dir()
    const missing = install(join(cwd, 'missing'), 'missing')
    const noSnapshot = await simulate(missing, cwd, 'SIGINT')
    expect(noSnapshot.cmdline.slice(1)).toEqual([`${cwd}/missing/bin/../dist/lora.js`, 'cluster', 'simulate', '--port', '0'])
    expect(noSnapshot.code).toBe(0)

    // Another node on PATH (a wrapper script: not the binary that built the snapshot).
    const same = install(join(cwd, 'same'), 'same')
    mkdirSync(join(cwd, 'other-node'))
    writeFileSync(join(cwd, 'other-node', 'node'), `#!/bin/sh\nexec "${process.execPath}" "$@"\n`)
    chmodSync(join(cwd, 'other-node', 'node'), 0o755)
    const otherNode = await simulate(same, cwd, 'SIGTERM', { PATH: `${join(cwd, 'other-node')}:${process.env.PATH}` })
    expect(otherNode.cmdline.slice(1, 2)).toEqual([`${cwd}/same/bin/../dist/lora.js`])
    expect(otherNode.code).toBe(0)
    // The same installation with the node that built it: the snapshot.
    expect((await simulate(same, cwd, 'SIGTERM')).cmdline[1]).toBe('--snapshot-blob')
    // NODE_OPTIONS may hold V8 options, which a snapshot refuses, or a module to preload, which it would skip.
    const withOptions = await simulate(BIN, cwd, 'SIGINT', { NODE_OPTIONS: '--max-old-space-size=300' })
    expect(withOptions.cmdline.slice(1, 2)).toEqual([`${dirname(BIN)}/../dist/lora.js`])
    expect(withOptions.code).toBe(0)

    // A usage error and a configuration error, with their exit codes, from either start.
    const bad = ['jobs', 'list', '--limit', '0']
    const fromSnapshot = await runLora(bad, { cwd })
    expect(fromSnapshot).toEqual({ code: 2, stdout: '', stderr: 'error: Invalid --limit: must be an integer from 1 to 10000 (got "0").\n' })
    const fromModule = await new Promise((resolve) => {
      const child = spawn(missing, bad, { cwd, env: { PATH: process.env.PATH ?? '', HOME: cwd, NO_COLOR: '1' } })
      let stderr = ''
      child.stderr.on('data', (d) => (stderr += d))
      child.on('close', (code) => resolve({ code, stdout: '', stderr }))
    })
    expect(fromModule).toEqual(fromSnapshot)
  })

  it('starts the long-running commands (daemon, demo, local start, a watch) from dist/lora.js, whose stack frames name the driver', async () => {
    const cwd = dir()
    // The shell's trace shows the line the launcher execs; bad input ends each at once (exit 2).
    const traced = (args: string[]) =>
      new Promise<{ exec: string; code: number | null }>((resolve) => {
        const child = spawn('sh', ['-x', BIN, ...args], { cwd, env: { PATH: process.env.PATH ?? '', HOME: cwd, NO_COLOR: '1' } })
        let stderr = ''
        child.stderr.on('data', (d) => (stderr += d))
        child.on('close', (code) => resolve({ exec: /^\+ exec (.*)$/m.exec(stderr)?.[1] ?? stderr, code }))
      })
    const entry = `${dirname(BIN)}/../dist/lora.js`
    for (const args of [['daemon', '--interval', 'soon'], ['jobs', 'watch', 'abcd', '--interval', 'x'], ['local', 'start', '--idle', 'x'], ['jobs', 'submit', '--watch', '--interval', 'x']]) {
      expect(await traced(args)).toEqual({ exec: `node ${entry} ${args.join(' ')}`, code: 2 })
    }
    expect((await traced(['jobs', 'list', '--limit', '0'])).exec).toContain('--snapshot-blob')
  })
})
