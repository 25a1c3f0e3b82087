/**
 * Starts a throwaway Postgres server for the integration tests when the server
 * binaries exist (CI installs them), migrates a template database once, and hands
 * its URL to the tests. Without the binaries, the Postgres half of the suite is
 * skipped, and this says so loudly.
 */
import { execFileSync, spawnSync } from 'node:child_process'
import { existsSync, mkdtempSync, readdirSync, rmSync, chmodSync, chownSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createServer } from 'node:net'
import type { TestProject } from 'vitest/node'

function findPgBin(): string | null {
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

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}

function banner(lines: string[]): void {
  const width = Math.max(...lines.map((l) => l.length)) + 4
  const bar = '!'.repeat(width)
  process.stderr.write(`\n${bar}\n${lines.map((l) => `! ${l.padEnd(width - 4)} !`).join('\n')}\n${bar}\n\n`)
}

export default async function setup(project: TestProject) {
  if (process.env.LORA_TEST_DATABASE_URL) {
    project.provide('pgUrl', process.env.LORA_TEST_DATABASE_URL)
    return
  }
  const bin = findPgBin()
  if (!bin) {
    banner([
      'REAL POSTGRES TESTS SKIPPED: initdb and pg_ctl were not found.',
      'Only the PGlite half of the database suite runs. Install the server',
      "(Debian: apt-get install -y postgresql; .ci/run does) to run both.",
    ])
    project.provide('pgUrl', '')
    return
  }

  const dir = mkdtempSync(join(tmpdir(), 'lora-test-pg-'))
  const data = join(dir, 'data')
  const port = await freePort()
  // The server refuses to run as root: run it as the unprivileged postgres user.
  const asRoot = process.getuid?.() === 0
  let run = (cmd: string, args: string[]) => execFileSync(cmd, args, { stdio: 'pipe' })
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString().trim())
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString().trim())
    chmodSync(dir, 0o755)
    chownSync(dir, uid, gid)
    run = (cmd, args) => execFileSync('runuser', ['-u', 'postgres', '--', cmd, ...args], { stdio: 'pipe', cwd: dir })
  }
  run(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync'])
  writeFileSync(join(dir, 'ok'), '')
  run(join(bin, 'pg_ctl'), [
    '-D', data, '-l', join(dir, 'server.log'), '-w', '-t', '60',
    '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=300`,
    'start',
  ])
  const url = `postgres://postgres@127.0.0.1:${port}/postgres`

  // The template every test database is cloned from, migrated once.
  const { openPostgres } = await import('../../src/db/postgres.js')
  const { migrate } = await import('../../src/db/migrate.js')
  const admin = await openPostgres({ url, max: 1 })
  await admin.query('CREATE DATABASE lora_template')
  await admin.close()
  const template = await openPostgres({ url: url.replace(/\/postgres$/, '/lora_template'), max: 1 })
  await migrate(template)
  await template.close()

  project.provide('pgUrl', url)
  process.stderr.write(`real Postgres for the tests: ${bin} on 127.0.0.1:${port}\n`)

  return () => {
    spawnSync(asRoot ? 'runuser' : join(bin, 'pg_ctl'), asRoot
      ? ['-u', 'postgres', '--', join(bin, 'pg_ctl'), '-D', data, '-m', 'immediate', 'stop']
      : ['-D', data, '-m', 'immediate', 'stop'], { stdio: 'ignore', cwd: dir })
    rmSync(dir, { recursive: true, force: true })
  }
}

declare module 'vitest' {
  export interface ProvidedContext {
    pgUrl: string
  }
}
