/**
 * PGlite: PostgreSQL compiled to WASM, in memory or persisted in a directory.
 */
import { PGlite } from '@electric-sql/pglite'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { acquireLock } from '../dir-lock.js'
import { InvalidOptionError } from '../errors.js'
import type { Database, QueryResult, SqlClient } from './database.js'

// PostgreSQL's type oid for timestamptz.
const TIMESTAMPTZ = 1184
// PostgreSQL's text for a timestamptz: `0050-06-01 00:00:00.123456+00`, the offset's minutes optional.
const PG_TIMESTAMPTZ = /^(\d{4})-(\d\d)-(\d\d) (\d\d:\d\d:\d\d(?:\.\d+)?)([+-]\d\d)(?::(\d\d))?$/

/**
 * A timestamptz as a Date. PGlite's own parser hands the text to `new Date()`,
 * whose legacy parsing reads years 0001 to 0099 as 1901 to 1999 or 2000 to 2049:
 * this one goes through ISO 8601, which keeps the year.
 * @internal
 */
export function parseTimestamptz (text: string): Date {
  const m = PG_TIMESTAMPTZ.exec(text)
  if (m === null) return new Date(text)
  return new Date(`${m[1]}-${m[2]}-${m[3]}T${m[4]}${m[5]}:${m[6] ?? '00'}`)
}

/** @internal */
export class PgliteDatabase implements Database {
  readonly engine = 'pglite'
  readonly #db: PGlite
  // Releases the directory's lock on close; undefined in memory.
  readonly #lock: (() => void) | undefined

  private constructor (db: PGlite, lock: (() => void) | undefined) {
    this.#db = db
    this.#lock = lock
  }

  static async open (dataDir: string | undefined): Promise<PgliteDatabase> {
    const options = { parsers: { [TIMESTAMPTZ]: parseTimestamptz } }
    const lock = dataDir === undefined ? undefined : lockDirectory(dataDir)
    try {
      const db = dataDir === undefined ? new PGlite(options) : new PGlite(dataDir, options)
      await db.waitReady
      return new PgliteDatabase(db, lock)
    } catch (err) {
      lock?.()
      throw err
    }
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
    this.#lock?.()
  }
}

const LOCK_FILE = 'audit-stream.lock'

/**
 * Takes the directory for this process: PGlite has no lock of its own, and
 * two instances on one directory corrupt it for good. A lock left by a
 * process that no longer runs is taken over (lib/dir-lock.ts).
 * @returns the release function
 * @throws {@link InvalidOptionError} when a running process holds it
 */
function lockDirectory (dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true })
  return acquireLock(dataDir, LOCK_FILE, (holder) => new InvalidOptionError('database',
    `a PGlite directory no other server uses (process ${holder?.pid ?? 'unknown'} holds ${join(dataDir, LOCK_FILE)}; PGlite is one process's: use PostgreSQL for replicas)`, dataDir))
}
