/**
 * A real PostgreSQL server through a pg connection pool.
 */
import pg from 'pg'
import type { Database, QueryResult, SqlClient } from './database.js'

/** @internal */
export class PostgresDatabase implements Database {
  readonly engine = 'postgres'
  readonly #pool: pg.Pool

  private constructor (pool: pg.Pool) {
    this.#pool = pool
  }

  static async open (connectionString: string): Promise<PostgresDatabase> {
    const pool = new pg.Pool({ connectionString, max: 10 })
    // An idle client's connection error must not crash the host; the next query reports it.
    pool.on('error', () => {})
    await pool.query('SELECT 1')
    return new PostgresDatabase(pool)
  }

  async query<T> (sql: string, params: unknown[] = []): Promise<QueryResult<T>> {
    const result = await this.#pool.query(sql, params)
    return { rows: result.rows as T[] }
  }

  async transaction<T> (fn: (tx: SqlClient) => Promise<T>): Promise<T> {
    const client = await this.#pool.connect()
    try {
      await client.query('BEGIN')
      const value = await fn({ query: async <R>(sql: string, params: unknown[] = []) => ({ rows: (await client.query(sql, params)).rows as R[] }) })
      await client.query('COMMIT')
      return value
    } catch (err) {
      await client.query('ROLLBACK').catch(() => {})
      throw err
    } finally {
      client.release()
    }
  }

  async close (): Promise<void> {
    await this.#pool.end()
  }
}
