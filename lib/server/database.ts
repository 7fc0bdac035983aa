/**
 * The reference server's storage: one small SQL interface, two engines.
 * PGlite (PostgreSQL in WASM, in memory or in a directory) by default, a
 * real PostgreSQL server through `pg` for deployments. Both run the same SQL.
 */
import { MissingPeerError } from '../errors.js'

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

/**
 * Opens `memory://` (PGlite in memory), a `postgres://` or `postgresql://`
 * URL (PostgreSQL through pg), or a directory path (PGlite on disk). The
 * engines are imported only when used: both drivers are optional peer
 * dependencies, and a missing one is a {@link MissingPeerError}.
 * @internal
 */
export async function openDatabase (location: string): Promise<Database> {
  if (/^postgres(ql)?:\/\//.test(location)) {
    const { PostgresDatabase } = await importDriver('pg', () => import('./postgres-database.js'))
    return PostgresDatabase.open(location)
  }
  const { PgliteDatabase } = await importDriver('@electric-sql/pglite', () => import('./pglite-database.js'))
  return PgliteDatabase.open(location === 'memory://' ? undefined : location)
}

// Only the driver's own absence becomes a MissingPeerError; any other failure is rethrown as it is.
async function importDriver<T> (packageName: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load()
  } catch (err) {
    const e = err as { code?: unknown, message?: unknown }
    const notFound = e.code === 'ERR_MODULE_NOT_FOUND' || e.code === 'MODULE_NOT_FOUND'
    if (notFound && typeof e.message === 'string' && e.message.includes(`'${packageName}'`)) {
      throw new MissingPeerError(packageName, 'startDataStorageServer', { cause: err })
    }
    throw err
  }
}
