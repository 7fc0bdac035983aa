/**
 * PGlite: PostgreSQL compiled to WASM, in memory or persisted in a directory.
 */
import { PGlite } from '@electric-sql/pglite'
import type { Database, QueryResult, SqlClient } from './database.js'

/** @internal */
export class PgliteDatabase implements Database {
  readonly engine = 'pglite'
  readonly #db: PGlite

  private constructor (db: PGlite) {
    this.#db = db
  }

  static async open (dataDir: string | undefined): Promise<PgliteDatabase> {
    const db = dataDir === undefined ? new PGlite() : new PGlite(dataDir)
    await db.waitReady
    return new PgliteDatabase(db)
  }

  async query<T> (sql: string, params: unknown[] = []): Promise<QueryResult<T>> {
    const result = await this.#db.query<T>(sql, params)
    return { rows: result.rows }
  }

  // PGlite runs one connection: its transactions are serialized, which also
  // serializes concurrent requests for the same idempotency key.
  async transaction<T> (fn: (tx: SqlClient) => Promise<T>): Promise<T> {
    return this.#db.transaction(async (tx) => fn({
      query: async <R>(sql: string, params: unknown[] = []) => ({ rows: (await tx.query<R>(sql, params)).rows }),
      // PGlite has no COPY FROM STDIN; it reads a COPY's input from the virtual file /dev/blob.
      copyFrom: async (target, text) => { await tx.query(`COPY ${target} FROM '/dev/blob'`, [], { blob: new Blob([text]) }) }
    }))
  }

  async close (): Promise<void> {
    if (!this.#db.closed) await this.#db.close()
  }
}
