/**
 * The one small database interface every module uses, over the `postgres` driver
 * (server Postgres, Supabase included) and PGlite (embedded). SQL uses $1, $2, ...
 * placeholders; parameters are always bound.
 *
 * Values come back the same from both: timestamptz as Date, numeric and bigint as
 * number, json/jsonb parsed.
 */
export type Row = Record<string, unknown>

export interface Queryable {
  query<T extends object = Row>(sql: string, params?: readonly unknown[]): Promise<T[]>
}

export interface Db extends Queryable {
  readonly kind: 'postgres' | 'pglite' | 'pglite-socket'
  /** Runs fn in one transaction; commits when it returns, rolls back when it throws. */
  transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T>
  /**
   * Runs several statements separated by semicolons without parameters (migrations).
   */
  exec(sql: string): Promise<void>
  /**
   * LISTEN on a channel; resolves to an unlisten function, or null where the
   * connection cannot listen (a transaction pooler), so callers fall back to polling.
   */
  listen(channel: string, onMessage: (payload: string) => void): Promise<(() => Promise<void>) | null>
  notify(channel: string, payload: string): Promise<void>
  /**
   * Closes the connections, waiting up to `waitMs` (5 s) for statements in flight;
   * 0 drops them at once, as a client that goes away does.
   */
  close(options?: { waitMs?: number }): Promise<void>
}
