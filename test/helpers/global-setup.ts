/**
 * Starts a throwaway Postgres server for the integration tests when the server
 * binaries exist (CI installs them), migrates a template database once, and hands
 * its URL to the tests; and builds the migrated PGlite template once. Without the
 * binaries, the Postgres half of the suite is skipped, and this says so loudly; with
 * CI set, their absence fails the run, so that CI never passes on half a suite.
 */
import type { TestProject } from 'vitest/node'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startPgServer } from './pg-server.js'

function banner(lines: string[]): void {
  const width = Math.max(...lines.map((l) => l.length)) + 4
  const bar = '!'.repeat(width)
  process.stderr.write(`\n${bar}\n${lines.map((l) => `! ${l.padEnd(width - 4)} !`).join('\n')}\n${bar}\n\n`)
}

/**
 * The migrated PGlite database every PGlite test starts from, built once for the run
 * (migrating takes seconds per file) and loaded by each file from this dump.
 */
async function pgliteTemplate(): Promise<{ file: string; emptyFile: string; dataDir: string; remove(): void }> {
  const { openPglite } = await import('../../src/db/pglite.js')
  const { migrate } = await import('../../src/db/migrate.js')
  const dir = mkdtempSync(join(tmpdir(), 'lora-pglite-template-'))
  // On disk, as the embedded profile keeps it: end-to-end workspaces copy this folder.
  const dataDir = join(dir, 'db')
  const handle = await openPglite(dataDir)
  // Before the migrations, the empty database the migration tests start from:
  // creating a PGlite cluster takes seconds, loading one a fraction of it.
  const emptyFile = join(dir, 'empty.tar')
  writeFileSync(emptyFile, Buffer.from(await (await handle.pg.dumpDataDir('none')).arrayBuffer()))
  await migrate(handle.db)
  const dump = await handle.pg.dumpDataDir('none')
  await handle.db.close()
  const file = join(dir, 'migrated.tar')
  writeFileSync(file, Buffer.from(await dump.arrayBuffer()))
  return { file, emptyFile, dataDir, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

/**
 * The test databases a run leaves on a server it did not start: each worker keeps
 * its emptied databases for its next test until the run ends.
 */
async function dropTestDatabases(url: string): Promise<void> {
  const { openPostgres } = await import('../../src/db/postgres.js')
  const admin = await openPostgres({ url, max: 1 })
  try {
    const names = await admin.query<{ datname: string }>(`SELECT datname FROM pg_database WHERE datname ~ '^t_[0-9a-f]{12}$'`)
    for (const { datname } of names) await admin.query(`DROP DATABASE IF EXISTS ${datname} WITH (FORCE)`)
  } finally {
    await admin.close()
  }
}

export default async function setup(project: TestProject) {
  // Both at once: each is seconds of waiting for its own process.
  const external = process.env.LORA_TEST_DATABASE_URL
  const [template, server] = await Promise.all([pgliteTemplate(), external ? null : startPgServer()])
  project.provide('pgliteTemplate', template.file)
  project.provide('pgliteEmpty', template.emptyFile)
  project.provide('embeddedTemplate', template.dataDir)
  if (external) {
    project.provide('pgUrl', external)
    return async () => {
      template.remove()
      await dropTestDatabases(external)
    }
  }
  if (!server && process.env.CI) {
    template.remove()
    throw new Error(
      'CI is set but initdb and pg_ctl were not found: the real Postgres half of the suite cannot run. ' +
        'Install the server (Debian: apt-get install -y postgresql; .ci/run does), or unset CI to run the PGlite half alone.',
    )
  }
  if (!server) {
    banner([
      'REAL POSTGRES TESTS SKIPPED: initdb and pg_ctl were not found.',
      'Only the PGlite half of the database suite runs. Install the server',
      '(Debian: apt-get install -y postgresql; .ci/run does) to run both.',
    ])
    project.provide('pgUrl', '')
    return () => template.remove()
  }
  // The template every test database is cloned from, migrated once.
  const { openPostgres } = await import('../../src/db/postgres.js')
  const { migrate } = await import('../../src/db/migrate.js')
  const admin = await openPostgres({ url: server.url, max: 1 })
  await admin.query('CREATE DATABASE lora_template')
  await admin.close()
  const pgTemplate = await openPostgres({ url: server.url.replace(/\/postgres$/, '/lora_template'), max: 1 })
  await migrate(pgTemplate)
  await pgTemplate.close()

  project.provide('pgUrl', server.url)
  process.stderr.write(`real Postgres for the tests: ${server.bin} on 127.0.0.1:${server.port}\n`)
  return () => {
    server.destroy()
    template.remove()
  }
}

declare module 'vitest' {
  export interface ProvidedContext {
    pgUrl: string
    /** A tar of a migrated PGlite data directory. */
    pgliteTemplate: string
    /** A tar of the same directory before its migrations: an empty database. */
    pgliteEmpty: string
    /** A migrated PGlite data directory, as `.lora/db` holds one. */
    embeddedTemplate: string
  }
}
