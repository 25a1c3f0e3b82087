import { spawn, type ChildProcess } from 'node:child_process'
import { BIN } from './cli.js'

/** A long-running lora command (a daemon, the simulator, the local stack) started by a test. */
export interface LoraProcess {
  readonly child: ChildProcess
  /** Resolves with the exit code (null when a signal ended it). */
  readonly exited: Promise<number | null>
  output(): { stdout: string; stderr: string }
  /**
   * Resolves with the stream's text once it matches `pattern` (a regular expression, or
   * a test of the whole text, such as a count of log lines); rejects, with what the
   * child said, when it exits first or the bound passes.
   */
  waitFor(stream: 'stdout' | 'stderr', pattern: RegExp | ((text: string) => boolean), timeoutMs?: number): Promise<string>
  /** Sends the signal if the child still runs, and waits for its exit. */
  stop(signal?: NodeJS.Signals): Promise<number | null>
}

const started = new Set<LoraProcess>()

/**
 * Runs the built binary in the background as a user would, with a clean environment.
 * Every process started here is remembered until stopLoraProcesses() kills it.
 */
export function startLora(args: string[], options: { cwd: string; env?: Record<string, string> }): LoraProcess {
  const child = spawn(BIN, [...args], {
    cwd: options.cwd,
    env: { PATH: process.env.PATH ?? '', HOME: options.cwd, NO_COLOR: '1', ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  const text = { stdout: '', stderr: '' }
  child.stdout!.on('data', (d) => (text.stdout += d))
  child.stderr!.on('data', (d) => (text.stderr += d))
  let code: number | null | undefined
  const exited = new Promise<number | null>((resolve) =>
    child.on('close', (exitCode) => {
      code = exitCode
      resolve(exitCode)
    }),
  )
  const what = `lora ${args.join(' ')}`
  const proc: LoraProcess = {
    child,
    exited,
    output: () => ({ ...text }),
    waitFor(stream, pattern, timeoutMs = 60_000) {
      return new Promise<string>((resolve, reject) => {
        const matches = typeof pattern === 'function' ? pattern : (t: string) => pattern.test(t)
        const check = () => {
          if (!matches(text[stream])) return false
          done()
          resolve(text[stream])
          return true
        }
        const onExit = () => {
          // Whatever it printed before dying still counts.
          if (check()) return
          done()
          reject(new Error(`${what} exited (${code}) before its ${stream} showed ${pattern}:\n${text.stderr.slice(-2000)}`))
        }
        const timer = setTimeout(() => {
          done()
          reject(new Error(`${what}: its ${stream} did not show ${pattern} within ${timeoutMs} ms:\n${text.stderr.slice(-2000)}`))
        }, timeoutMs)
        const done = () => {
          clearTimeout(timer)
          child[stream]!.off('data', check)
        }
        if (check()) return
        if (code !== undefined) return onExit()
        child[stream]!.on('data', check)
        void exited.then(onExit)
      })
    },
    async stop(signal = 'SIGKILL') {
      if (code === undefined && child.exitCode === null && child.signalCode === null) child.kill(signal)
      const exitCode = await exited
      started.delete(proc)
      return exitCode
    },
  }
  started.add(proc)
  return proc
}

/** Kills every process startLora() started that still runs, and waits for each: for afterEach and afterAll. */
export async function stopLoraProcesses(): Promise<void> {
  await Promise.all([...started].map((p) => p.stop('SIGKILL')))
}
