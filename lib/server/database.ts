/**
 * The reference server's storage: one small SQL interface, two engines.
 * PGlite (PostgreSQL in WASM, in memory or in a directory) by default, a
 * real PostgreSQL server through `pg` for deployments. Both run the same SQL.
 * This file is the interface the engines implement; `open-database.ts`
 * picks and loads one.
 */
/** Rows of a query. @internal */
export interface QueryResult<T> {
  readonly rows: T[]
}

/** Runs parameterized SQL. @internal */
export interface SqlClient {
  query<T = Record<string, unknown>> (sql: string, params?: unknown[]): Promise<QueryResult<T>>
  /**
   * Runs `COPY <target> FROM STDIN` with `chunks` (COPY's text format, split
   * anywhere) as the input, where the engine has a fast path for it; absent
   * otherwise. PostgreSQL takes each chunk as the iterator yields it.
   */
  copyFrom?: (target: string, chunks: Iterable<string>) => Promise<void>
}

/** A database the server can use. @internal */
export interface Database extends SqlClient {
  /** `pglite` or `postgres`. */
  readonly engine: 'pglite' | 'postgres'
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T> (fn: (tx: SqlClient) => Promise<T>): Promise<T>
  close (): Promise<void>
}

/**
 * The database cannot be reached right now (refused or dropped connections,
 * a server shutting down or restarting). The request may be retried later:
 * the server answers 503 with `Retry-After`.
 * @internal
 */
export class DatabaseUnavailableError extends Error {
  constructor (cause: unknown) {
    super('the database is unavailable', { cause })
    this.name = 'DatabaseUnavailableError'
  }
}
