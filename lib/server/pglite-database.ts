/**
 * PGlite: PostgreSQL compiled to WASM, in memory or persisted in a directory.
 */
import { PGlite, type PGliteOptions } from '@electric-sql/pglite'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { gzip } from 'node:zlib'
import { acquireLock } from '../files/dir-lock.js'
import { InvalidOptionError } from '../errors.js'
import type { Database, QueryResult, SqlClient } from './database.js'

// PostgreSQL's type oids for timestamptz and jsonb.
const TIMESTAMPTZ = 1184
const JSONB = 3802
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

/**
 * A jsonb parameter as PGlite sends it. Bytes are jsonb's binary input
 * (version byte and text) and go as they are, in binary (PGlite sends any
 * byte array so, though its types say a serializer returns a string); a
 * string is JSON text; anything else is serialized, as PGlite's own does.
 * @internal
 */
export function serializeJsonb (value: unknown): string {
  if (ArrayBuffer.isView(value)) return value as unknown as string
  return typeof value === 'string' ? value : JSON.stringify(value, (_key, v: unknown) => typeof v === 'bigint' ? v.toString() : v)
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
    const options = { parsers: { [TIMESTAMPTZ]: parseTimestamptz }, serializers: { [JSONB]: serializeJsonb } }
    const lock = dataDir === undefined ? undefined : lockDirectory(dataDir)
    try {
      const db = dataDir === undefined ? await openInMemory(options) : new PGlite(dataDir, options)
      await db.waitReady
      growFilesByDoubling(db)
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
      copyFrom: async (target, chunks) => { await tx.query(`COPY ${target} FROM '/dev/blob'`, [], { blob: new Blob([...chunks]) }) }
    }))
  }

  async close (): Promise<void> {
    if (!this.#db.closed) await this.#db.close()
    this.#lock?.()
  }
}

// The data directory initdb made for this process's second in-memory database, gzipped
// (about 5 MB), or undefined when it could not be taken.
let pristine: Promise<Blob | undefined> | undefined
let inMemoryOpened = 0
const gzipAsync = promisify(gzip)

/**
 * A new in-memory PGlite. A fresh one runs initdb, about 2.8 s on this
 * project's machine; one loaded from a dump of initdb's output starts in
 * about 0.8 s. A process that opens a second in-memory database (a test
 * suite, say) dumps that one as soon as it is ready, before anything
 * touches it (about 0.15 s, then a gzip off the main thread), and the third
 * and later ones start from the dump: each still a database of its own, as
 * fresh as initdb leaves it. A process with one in-memory database pays
 * nothing for this.
 */
async function openInMemory (options: PGliteOptions): Promise<PGlite> {
  const dump = pristine === undefined ? undefined : await pristine
  if (dump !== undefined) return new PGlite({ ...options, loadDataDir: dump })
  const db = new PGlite(options)
  if (pristine === undefined && inMemoryOpened++ > 0) {
    const tar = db.waitReady.then(() => db.dumpDataDir('none'))
    pristine = tar.then(async (blob) => new Blob([await gzipAsync(new Uint8Array(await blob.arrayBuffer()), { level: 1 })])).catch(() => undefined)
    // Taken before the caller can touch the database; a failed dump only means no dump.
    await tar.catch(() => {})
  }
  return db
}

// The part of Emscripten's in-memory file system that growFilesByDoubling replaces.
interface MemFsNode { contents: Uint8Array | null, usedBytes: number }
interface MemFs {
  expandFileStorage: (node: MemFsNode, capacity: number) => void
  resizeFileStorage: (node: MemFsNode, size: number) => void
  getFileDataAsTypedArray: (node: MemFsNode) => Uint8Array
}

/**
 * Makes PGlite's in-memory files grow by doubling. Emscripten's MEMFS grows
 * a file written past its end by an eighth once past 1 MiB, and one extended
 * by fallocate or ftruncate to exactly its new size, copying all of it each
 * time; PostgreSQL extends WAL segments (16 MiB) and tables a few pages at a
 * time, so an in-memory ingest spent about 15 % of its time (INSERT) or more
 * (COPY) copying files. Doubling copies each byte about once more in all,
 * for at most twice a file's size in memory; shrinking is left as it was.
 * A PGlite whose MEMFS lacks these functions is left as it is.
 * @internal
 */
export function growFilesByDoubling (db: PGlite): boolean {
  const memfs = (db.Module as unknown as { MEMFS?: Partial<MemFs> }).MEMFS
  const copy = memfs?.getFileDataAsTypedArray
  const resize = memfs?.resizeFileStorage
  if (memfs === undefined || typeof memfs.expandFileStorage !== 'function' || typeof copy !== 'function' || typeof resize !== 'function') return false
  const expand = (node: MemFsNode, capacity: number): Uint8Array => {
    const previous = node.contents?.length ?? 0
    if (node.contents !== null && previous >= capacity) return node.contents
    const data = copy(node)
    node.contents = new Uint8Array(Math.max(capacity, previous * 2, 256))
    node.contents.set(data)
    return node.contents
  }
  memfs.expandFileStorage = expand
  memfs.resizeFileStorage = (node, size) => {
    if (size <= node.usedBytes) return resize(node, size)
    // What lies past the end reads as zeros, as after the exact-size copy.
    expand(node, size).fill(0, node.usedBytes, size)
    node.usedBytes = size
  }
  return true
}

const LOCK_FILE = 'audit-stream.lock'

/**
 * Takes the directory for this process: PGlite has no lock of its own, and
 * two instances on one directory corrupt it for good. A lock left by a
 * process that no longer runs is taken over (lib/files/dir-lock.ts).
 * @returns the release function
 * @throws {@link InvalidOptionError} when a running process holds it
 */
function lockDirectory (dataDir: string): () => void {
  mkdirSync(dataDir, { recursive: true })
  return acquireLock(dataDir, LOCK_FILE, (holder) => new InvalidOptionError('database',
    `a PGlite directory no other server uses (process ${holder?.pid ?? 'unknown'} holds ${join(dataDir, LOCK_FILE)}; PGlite is one process's: use PostgreSQL for replicas)`, dataDir))
}
