import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export const BIN = fileURLToPath(new URL('../../bin/lora', import.meta.url))

export interface CliResult {
  code: number | null
  stdout: string
  stderr: string
}

/** Runs the built lora binary as a user would, with a clean environment. */
export function runLora(
  args: string[],
  options: { cwd: string; env?: Record<string, string>; timeoutMs?: number; input?: string } = { cwd: process.cwd() },
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: options.cwd,
      env: { PATH: process.env.PATH ?? '', HOME: options.cwd, NO_COLOR: '1', ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => (stdout += d))
    child.stderr.on('data', (d) => (stderr += d))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`lora ${args.join(' ')} did not finish in ${options.timeoutMs ?? 60_000} ms\n${stderr}`))
    }, options.timeoutMs ?? 60_000)
    child.on('error', reject)
    child.on('close', (code) => {
      clearTimeout(timer)
      resolve({ code, stdout, stderr })
    })
    child.stdin.end(options.input ?? '')
  })
}

export function tempDir(prefix = 'lora-test-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix))
  return { path, remove: () => rmSync(path, { recursive: true, force: true }) }
}

export interface LoraProcess {
  readonly child: ChildProcess
  /** Everything the process wrote to stderr so far. */
  stderr(): string
  /** The exit code (null when killed by a signal), once it has exited. */
  readonly exited: Promise<number | null>
  /**
   * Waits until `ready()` holds, checking every 50 ms; fails at once when the process
   * exits first, and after `timeoutMs` otherwise, with the end of its stderr.
   */
  waitFor(ready: () => boolean, what: string, timeoutMs?: number): Promise<void>
  /** Kills it (SIGKILL unless told) and waits for it to exit; safe to call twice. */
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

/** Starts the built binary as a long-running child process (a daemon, a watch). */
export function spawnLora(args: string[], options: { cwd: string; env?: Record<string, string> }): LoraProcess {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? '', HOME: options.cwd, NO_COLOR: '1', ...options.env },
    stdio: ['ignore', 'ignore', 'pipe'],
  })
  let stderr = ''
  let code: number | null | undefined
  child.stderr!.on('data', (d) => (stderr += d))
  const exited = new Promise<number | null>((resolve) => child.on('close', (c) => resolve((code = c))))
  return {
    child,
    stderr: () => stderr,
    exited,
    async waitFor(ready, what, timeoutMs = 30_000) {
      const deadline = Date.now() + timeoutMs
      while (!ready()) {
        if (code !== undefined) throw new Error(`lora ${args.join(' ')} exited (${code}) while waiting for ${what}\n${stderr.slice(-3000)}`)
        if (Date.now() > deadline) throw new Error(`waited ${timeoutMs} ms for ${what}\n${stderr.slice(-3000)}`)
        await new Promise((r) => setTimeout(r, 50))
      }
    },
    async stop(signal = 'SIGKILL') {
      if (code === undefined) child.kill(signal)
      return exited
    },
  }
}
