/**
 * A real PostgreSQL server through a pg connection pool.
 *
 * The pool outlives PostgreSQL restarts: a connection that breaks is
 * discarded, never returned to the pool, and the next request opens a new
 * one. Failures to reach the server become {@link DatabaseUnavailableError}
 * (the server answers 503), within `CONNECT_TIMEOUT_MS`, so no request waits
 * forever for a server that is down.
 */
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import pg from 'pg'
import type { from as copyFromType } from 'pg-copy-streams'
import { DatabaseUnavailableError, type Database, type QueryResult, type SqlClient } from './database.js'

const CONNECT_TIMEOUT_MS = 5_000

// SQLSTATEs of a server that is going away or not taking connections:
// class 08 (connection exception), 57P01-57P03 (shutdown, crash, starting up), 53300 (too many connections).
const UNAVAILABLE_STATES = /^(08...|57P0[123]|53300)$/
const UNAVAILABLE_ERRNOS = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN'])
// pg reports a dropped or unusable connection without a code.
const UNAVAILABLE_MESSAGES = /Connection terminated|not queryable|timeout exceeded when trying to connect|Connection ended/i

function isUnavailable (err: unknown): boolean {
  if (typeof err !== 'object' || err === null) return false
  const { code, message } = err as { code?: unknown, message?: unknown }
  if (typeof code === 'string' && (UNAVAILABLE_STATES.test(code) || UNAVAILABLE_ERRNOS.has(code))) return true
  return typeof message === 'string' && UNAVAILABLE_MESSAGES.test(message)
}

// Any failure to get a connection means the database is unavailable, whatever its code
// (a database that refuses connections answers 55000, for instance).
async function connect (pool: pg.Pool): Promise<pg.PoolClient> {
  let client: pg.PoolClient
  try {
    client = await pool.connect()
  } catch (err) {
    throw new DatabaseUnavailableError(err)
  }
  // A checked-out client has no pool listener: a connection that breaks between
  // two queries would otherwise emit an unhandled 'error' and end the process.
  client.on('error', ignore)
  return client
}

function ignore (): void {}

// pg-copy-streams is an optional peer: without it, batches are inserted with one INSERT statement.
type CopyFrom = typeof copyFromType
async function loadCopyFrom (): Promise<CopyFrom | undefined> {
  try {
    return (await import('pg-copy-streams')).from
  } catch {
    return undefined
  }
}

/** @internal */
export class PostgresDatabase implements Database {
  readonly engine = 'postgres'
  // Idle clients carry the pool's own error listener; checked-out ones get `ignore` in connect().
  readonly #pool: pg.Pool
  // COPY ... FROM STDIN through pg-copy-streams, when it is installed.
  readonly #copyFrom: CopyFrom | undefined

  private constructor (pool: pg.Pool, copyFrom: CopyFrom | undefined) {
    this.#pool = pool
    this.#copyFrom = copyFrom
  }

  static async open (connectionString: string): Promise<PostgresDatabase> {
    const pool = new pg.Pool({ connectionString, max: 10, connectionTimeoutMillis: CONNECT_TIMEOUT_MS })
    // An idle client's connection error must not crash the host; the next query reports it.
    pool.on('error', ignore)
    const db = new PostgresDatabase(pool, await loadCopyFrom())
    try {
      await db.query('SELECT 1')
    } catch (err) {
      await pool.end().catch(ignore)
      throw err
    }
    return db
  }

  async query<T> (sql: string, params: unknown[] = []): Promise<QueryResult<T>> {
    return this.#withClient(async (client) => ({ rows: (await client.query(sql, params)).rows as T[] }))
  }

  async transaction<T> (fn: (tx: SqlClient) => Promise<T>): Promise<T> {
    return this.#withClient(async (client) => {
      await client.query('BEGIN')
      try {
        const tx: SqlClient = { query: async <R>(sql: string, params: unknown[] = []) => ({ rows: (await client.query(sql, params)).rows as R[] }) }
        const copyFrom = this.#copyFrom
        if (copyFrom !== undefined) {
          // One chunk read ahead at a time: each goes to the server as it is made.
          tx.copyFrom = async (target, chunks) => { await pipeline(Readable.from(chunks, { highWaterMark: 1 }), client.query(copyFrom(`COPY ${target} FROM STDIN`))) }
        }
        const value = await fn(tx)
        await client.query('COMMIT')
        return value
      } catch (err) {
        await client.query('ROLLBACK').catch(ignore)
        throw err
      }
    })
  }

  // Runs `fn` on a pooled client. A client whose connection failed is destroyed, not reused.
  async #withClient<T> (fn: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    const client = await connect(this.#pool)
    let broken: Error | undefined
    try {
      return await fn(client)
    } catch (err) {
      if (isUnavailable(err)) {
        broken = err as Error
        throw new DatabaseUnavailableError(err)
      }
      throw err
    } finally {
      client.removeListener('error', ignore)
      client.release(broken)
    }
  }

  async close (): Promise<void> {
    await this.#pool.end()
  }
}
