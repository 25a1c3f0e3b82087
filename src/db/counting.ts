import type { Db, Queryable } from './types.js'

/**
 * Wraps a Db and counts the statements sent through it (a transaction counts its
 * BEGIN and COMMIT): what the daemon's benchmark and tests measure round trips with.
 */
export function countingDb(db: Db): Db & { statements: number; reset(): void } {
  const counter = {
    statements: 0,
    reset() {
      counter.statements = 0
    },
  }
  const wrapped: Db & typeof counter = Object.assign(counter, {
    kind: db.kind,
    query: <T extends object>(sql: string, params?: readonly unknown[]) => {
      counter.statements += 1
      return db.query<T>(sql, params)
    },
    transaction: <T>(fn: (tx: Queryable) => Promise<T>) => {
      counter.statements += 2
      return db.transaction((tx) =>
        fn({
          query: <R extends object>(sql: string, params?: readonly unknown[]) => {
            counter.statements += 1
            return tx.query<R>(sql, params)
          },
        }),
      )
    },
    exec: (sql: string) => {
      counter.statements += 1
      return db.exec(sql)
    },
    listen: db.listen.bind(db),
    notify: db.notify.bind(db),
    close: db.close.bind(db),
  })
  return wrapped
}
