/**
 * Starts a throwaway Postgres server for the integration tests when the server
 * binaries exist (CI installs them), migrates a template database once, and hands
 * its URL to the tests. Without the binaries, the Postgres half of the suite is
 * skipped, and this says so loudly.
 */
import type { TestProject } from 'vitest/node'
import { startPgServer } from './pg-server.js'

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
  const server = await startPgServer()
  if (!server) {
    banner([
      'REAL POSTGRES TESTS SKIPPED: initdb and pg_ctl were not found.',
      'Only the PGlite half of the database suite runs. Install the server',
      '(Debian: apt-get install -y postgresql; .ci/run does) to run both.',
    ])
    project.provide('pgUrl', '')
    return
  }
  // The template every test database is cloned from, migrated once.
  const { openPostgres } = await import('../../src/db/postgres.js')
  const { migrate } = await import('../../src/db/migrate.js')
  const admin = await openPostgres({ url: server.url, max: 1 })
  await admin.query('CREATE DATABASE lora_template')
  await admin.close()
  const template = await openPostgres({ url: server.url.replace(/\/postgres$/, '/lora_template'), max: 1 })
  await migrate(template)
  await template.close()

  project.provide('pgUrl', server.url)
  process.stderr.write(`real Postgres for the tests: ${server.bin} on 127.0.0.1:${server.port}\n`)
  return () => server.destroy()
}

declare module 'vitest' {
  export interface ProvidedContext {
    pgUrl: string
  }
}
