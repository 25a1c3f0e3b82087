/**
 * A throwaway Postgres server in a temporary folder: for the test suite (global
 * setup), for tests that must stop and restart their own server, and for the
 * benchmarks. As root, the server runs as the unprivileged postgres user.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer } from 'node:net'

export function findPgBin(): string | null {
  const candidates: string[] = []
  if (process.env.LORA_TEST_PG_BIN) candidates.push(process.env.LORA_TEST_PG_BIN)
  for (const dir of (process.env.PATH ?? '').split(':')) if (dir) candidates.push(dir)
  // Debian keeps the server binaries off the PATH, in a folder per major version.
  if (existsSync('/usr/lib/postgresql')) {
    for (const v of readdirSync('/usr/lib/postgresql').sort().reverse()) candidates.push(`/usr/lib/postgresql/${v}/bin`)
  }
  for (const dir of candidates) {
    if (existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl')) && existsSync(join(dir, 'postgres'))) return dir
  }
  return null
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}

export interface PgServer {
  /** postgres://postgres@127.0.0.1:PORT/postgres */
  url: string
  bin: string
  port: number
  start(): void
  stop(mode?: 'fast' | 'immediate'): void
  /** Stops the server and removes its folder. */
  destroy(): void
}

export async function startPgServer(options: { settings?: string[] } = {}): Promise<PgServer | null> {
  const bin = findPgBin()
  if (!bin) return null
  const dir = mkdtempSync(join(tmpdir(), 'lora-pg-'))
  const data = join(dir, 'data')
  const port = await freePort()
  const asRoot = process.getuid?.() === 0
  let run = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: 'pipe', cwd: dir })
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim())
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim())
    chmodSync(dir, 0o755)
    chownSync(dir, uid, gid)
    run = (cmd, args) => execFileSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { stdio: 'pipe', cwd: dir })
  }
  run(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync'])
  const settings = [
    `-p ${port}`, `-k ${dir}`, '-c listen_addresses=127.0.0.1', '-c fsync=off', '-c synchronous_commit=off',
    '-c full_page_writes=off', '-c max_connections=300', ...(options.settings ?? []),
  ].join(' ')
  const start = () => run(join(bin, 'pg_ctl'), ['-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '60', '-o', settings, 'start'])
  const stop = (mode: 'fast' | 'immediate' = 'fast') => run(join(bin, 'pg_ctl'), ['-D', data, '-m', mode, '-w', 'stop'])
  start()
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    bin,
    port,
    start,
    stop,
    destroy() {
      const args = ['-D', data, '-m', 'immediate', 'stop']
      if (asRoot) spawnSync('runuser', ['-u', 'postgres', '--', join(bin, 'pg_ctl'), ...args], { stdio: 'ignore', cwd: dir })
      else spawnSync(join(bin, 'pg_ctl'), args, { stdio: 'ignore', cwd: dir })
      rmSync(dir, { recursive: true, force: true })
    },
  }
}
