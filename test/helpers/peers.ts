/**
 * The real peers of the daemon's observability: the Prometheus exposition checker and
 * Alertmanager (Debian: prometheus, prometheus-alertmanager; .ci/run installs them).
 * Missing, the tests that need them say so loudly, and fail when CI is set.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { freePort } from './pg-server.js'

export function findPeer(...names: string[]): string | null {
  for (const dir of (process.env.PATH ?? '').split(':')) {
    for (const name of names) if (dir && existsSync(join(dir, name))) return join(dir, name)
  }
  return null
}

/** The binary, or null after a loud banner; under CI a missing peer is an error. */
export function requirePeer(what: string, pkg: string, ...names: string[]): string | null {
  const found = findPeer(...names)
  if (found) return found
  const lines = [`${what.toUpperCase()} TESTS SKIPPED: ${names.join(' or ')} not found.`, `Install it (Debian: apt-get install -y ${pkg}; .ci/run does).`]
  const width = Math.max(...lines.map((l) => l.length)) + 4
  process.stderr.write(`\n${'!'.repeat(width)}\n${lines.map((l) => `! ${l.padEnd(width - 4)} !`).join('\n')}\n${'!'.repeat(width)}\n\n`)
  if (process.env.CI) throw new Error(`${names[0]} is required in CI (apt-get install -y ${pkg})`)
  return null
}

export const PROMTOOL = requirePeer('promtool', 'prometheus', 'promtool')
export const ALERTMANAGER = requirePeer('alertmanager', 'prometheus-alertmanager', 'prometheus-alertmanager', 'alertmanager')

export interface Alertmanager {
  url: string
  /** GET /api/v2/alerts: the alerts it holds active. */
  alerts(): Promise<{ labels: Record<string, string>; annotations: Record<string, string>; status: { state: string } }[]>
  close(): Promise<void>
}

/** A real Alertmanager on a free loopback port, its state in a temporary folder, clustering off. */
export async function startAlertmanager(bin: string): Promise<Alertmanager> {
  const dir = mkdtempSync(join(tmpdir(), 'lora-am-'))
  writeFileSync(join(dir, 'am.yml'), 'route:\n  receiver: nowhere\nreceivers:\n  - name: nowhere\n')
  const port = await freePort()
  const child: ChildProcess = spawn(
    bin,
    [`--config.file=${join(dir, 'am.yml')}`, `--storage.path=${join(dir, 'data')}`, `--web.listen-address=127.0.0.1:${port}`, '--cluster.listen-address='],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  )
  let stderr = ''
  child.stderr!.on('data', (d) => (stderr += d))
  const exited = new Promise<void>((resolve) => child.on('close', () => resolve()))
  const url = `http://127.0.0.1:${port}`
  const close = async () => {
    if (child.exitCode === null) child.kill('SIGTERM')
    await exited
    rmSync(dir, { recursive: true, force: true })
  }
  for (let i = 0; i < 300; i++) {
    if (child.exitCode !== null) break
    const ready = await fetch(`${url}/-/ready`).then((r) => r.ok, () => false)
    if (ready) {
      return {
        url,
        async alerts() {
          return (await fetch(`${url}/api/v2/alerts`)).json() as never
        },
        close,
      }
    }
    await new Promise((r) => setTimeout(r, 100))
  }
  await close()
  throw new Error(`alertmanager did not become ready:\n${stderr.slice(-2000)}`)
}

/** `promtool check metrics` on an exposition text: its exit code and what it said. */
export function promtoolCheck(bin: string, text: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(bin, ['check', 'metrics'], { stdio: ['pipe', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (d) => (output += d))
    child.stderr.on('data', (d) => (output += d))
    child.on('error', reject)
    child.on('close', (code) => resolve({ code, output }))
    child.stdin.end(text)
  })
}
