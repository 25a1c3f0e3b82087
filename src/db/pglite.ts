import type { PGlite } from '@electric-sql/pglite'
import type { Db, Queryable, Row } from './types.js'
import { Mutex } from './mutex.js'
import { bindParams, OID, parseDate, parseInt8, parseNumeric } from './values.js'

export interface PgliteHandle {
  db: Db
  pg: PGlite
  /**
   * One session at a time: an in-process transaction and a socket client's
   * transaction never interleave, because both hold this for their whole length.
   */
  session: Mutex
}

/** Opens PGlite on a data directory (or in memory when dir is undefined). */
export async function openPglite(dir: string | undefined): Promise<PgliteHandle> {
  const { PGlite } = await import('@electric-sql/pglite')
  const pg = await PGlite.create(dir, {
    parsers: { [OID.numeric]: parseNumeric, [OID.int8]: parseInt8, [OID.date]: parseDate },
  })
  return wrapPglite(pg, new Mutex())
}

/** The Db over an open PGlite, every use under the session lock. */
export function wrapPglite(pg: PGlite, session: Mutex): PgliteHandle {
  const run = <T extends object>(target: Pick<PGlite, 'query'>, sql: string, params?: readonly unknown[]) =>
    target.query<T>(sql, bindParams(params)).then((r) => r.rows)

  const db: Db = {
    kind: 'pglite',
    query: (sql, params) => session.run(() => run(pg, sql, params)),
    transaction: (fn) =>
      session.run(() =>
        pg.transaction(async (tx) => {
          const q: Queryable = { query: (sql, params) => run(tx, sql, params) }
          return fn(q)
        }),
      ),
    exec: (sql) => session.run(async () => void (await pg.exec(sql))),
    async listen(channel, onMessage) {
      const unsubscribe = await session.run(() => pg.listen(channel, onMessage))
      return async () => session.run(() => unsubscribe())
    },
    notify: async (channel, payload) => {
      await session.run(() => pg.query('SELECT pg_notify($1, $2)', [channel, payload]))
    },
    close: async () => {
      await session.run(() => pg.close())
    },
  }
  return { db, pg, session }
}
