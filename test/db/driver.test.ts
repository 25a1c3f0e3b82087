import { afterEach, describe, expect, it } from 'vitest'
import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { pgUrl } from '../helpers/db.js'
import { openPostgres } from '../../src/db/postgres.js'
import type { Db } from '../../src/db/types.js'
import { patchDriverConnection } from '../../scripts/driver-patch.mjs'

describe('the postgres driver fix (scripts/driver-patch.mjs)', () => {
  it('applies to the installed driver, and refuses a source it does not recognise', () => {
    const file = fileURLToPath(new URL('../../node_modules/postgres/src/connection.js', import.meta.url))
    const source = readFileSync(file, 'utf8')
    const patched = patchDriverConnection(source, file)
    expect(patched).toContain("if (!socket) {\n      chunk = nextWriteTimer = null")
    expect(patched.split('chunk = nextWriteTimer = null').length - 1).toBe(4)
    // The reconnection delay's clock: no perf_hooks to load as a connection closes.
    expect(source).toContain("import { performance } from 'perf_hooks'")
    expect(patched).not.toContain('perf_hooks')
    expect(patched).toContain('closedTime = performance.now()')
    expect(() => patchDriverConnection(source.replace('function nextWrite(fn) {', 'function nextWrite(fn, x) {'), 'connection.js'))
      .toThrow('connection.js: the driver fix "a deferred write whose socket has closed is dropped, not sent to a null socket" expected 1 match(es) and found 0')
  })
})

describe.skipIf(!pgUrl)('the postgres driver when a connection dies under a transaction (real Postgres)', () => {
  const stray: unknown[] = []
  const onStray = (error: unknown) => stray.push(error)
  let db: Db | undefined
  let admin: Db | undefined
  afterEach(async () => {
    process.off('uncaughtException', onStray)
    process.off('unhandledRejection', onStray)
    await db?.close()
    await admin?.close()
    db = admin = undefined
  })

  it('rejects the transaction with a connection error and raises nothing outside it, five times over', async () => {
    process.on('uncaughtException', onStray)
    process.on('unhandledRejection', onStray)
    admin = await openPostgres({ url: pgUrl, max: 1 })
    for (let round = 0; round < 5; round++) {
      db = await openPostgres({ url: pgUrl, max: 2 })
      const failure = await db
        .transaction(async (tx) => {
          const [me] = await tx.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')
          await admin!.query('SELECT pg_terminate_backend($1)', [me!.pid])
          // The backend is gone: this statement fails, and the driver's ROLLBACK after
          // it goes to a connection whose socket has closed.
          await tx.query('SELECT 1')
        })
        .then(() => null, (error: NodeJS.ErrnoException) => error)
      expect(failure?.code).toMatch(/^(CONNECTION_CLOSED|57P01|ECONNRESET)$/)
      // The deferred write would fire on the next turns of the event loop.
      await new Promise((resolve) => setImmediate(resolve))
      await new Promise((resolve) => setTimeout(resolve, 20))
      // The pool serves the next statement on a new connection.
      const [row] = await db.query<{ ok: number }>('SELECT 1 AS ok')
      expect(row!.ok).toBe(1)
      // Nothing is left pending on the dead connection: the pool ends at once rather
      // than after its 5-second timeout.
      let timer: NodeJS.Timeout | undefined
      const closed = await Promise.race([
        db.close().then(() => 'closed'),
        new Promise((resolve) => (timer = setTimeout(() => resolve('still open after 4 s'), 4_000))),
      ])
      clearTimeout(timer)
      expect(closed).toBe('closed')
      db = undefined
    }
    expect(stray.map((e) => (e as Error).message)).toEqual([])
  })
})
