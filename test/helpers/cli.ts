import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
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
  options: { cwd: string; env?: Record<string, string>; timeoutMs?: number; input?: string; bin?: string } = { cwd: process.cwd() },
): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(options.bin ?? BIN, [...args], {
      cwd: options.cwd,
      // A local service the command starts in the background ends soon after the test
      // (tempDir's remove() ends it at once).
      env: { PATH: process.env.PATH ?? '', HOME: options.cwd, NO_COLOR: '1', LORA_LOCAL_IDLE: '30s', ...options.env },
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

/** The pid of the process holding the embedded stack under `root`, if any (not this one). */
export function stackHolder(root: string): number | null {
  try {
    const pid = (JSON.parse(readFileSync(join(root, '.lora', 'db', 'db.lock'), 'utf8')) as { pid: number }).pid
    return pid === process.pid ? null : pid
  } catch {
    return null
  }
}

/** A temporary folder; remove() also ends a local service that a command started there. */
export function tempDir(prefix = 'lora-test-'): { path: string; remove(): void } {
  const path = mkdtempSync(join(tmpdir(), prefix))
  return {
    path,
    remove: () => {
      const pid = stackHolder(path)
      if (pid !== null) {
        try {
          process.kill(pid, 'SIGKILL')
        } catch {
          // Gone already.
        }
      }
      rmSync(path, { recursive: true, force: true })
    },
  }
}

