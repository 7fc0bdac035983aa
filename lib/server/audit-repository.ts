/**
 * Storing and querying audit events, with idempotent writes. Parameterized
 * SQL only: values never become part of a statement's text.
 */
import { randomUUID } from 'node:crypto'
import type { AuditEvent } from '../event/event.js'
import type { Database, SqlClient } from './database.js'
import type { LaneBatch } from './lane-batch.js'
import { admitBatch, advanceLane, lockLane } from './lane-state.js'

/** Columns of an event besides the generated ones, in table order. */
const COLUMNS = [
  ['version', 'text'], ['event_type', 'text'], ['event_timestamp', 'timestamptz'], ['event_category', 'text'],
  ['event_action', 'text'], ['event_outcome', 'text'], ['correlation_id', 'text'], ['event_data', 'jsonb'],
  ['actor_type', 'text'], ['actor_id', 'text'], ['actor_ip', 'text'], ['resource_type', 'text'], ['resource_id', 'text'],
  ['parent_event_id', 'uuid'], ['namespace', 'text'], ['cluster_id', 'text'], ['severity', 'text'],
  ['duration_ms', 'integer'], ['error_code', 'text'], ['error_message', 'text'], ['retention_days', 'integer'],
  ['is_sensitive', 'boolean'], ['parent_event_date', 'timestamptz']
] as const

const NAMES = COLUMNS.map(([name]) => name).join(', ')
const KNOWN_COLUMNS: ReadonlySet<string> = new Set(COLUMNS.map(([name]) => name))
const KEY_TTL = "interval '24 hours'"

// One statement for any batch size: the events travel as one jsonb array ($1)
// and their ids as one uuid array ($2), matched by position; ORDER BY the
// ordinality (which the function scan already yields, so nothing is sorted)
// keeps seq in batch order. event_date is generated from event_timestamp (migration 3).
const INSERT_SQL = `INSERT INTO audit_events (event_id, ${NAMES})
  SELECT ($2::uuid[])[x.ord], ${COLUMNS.map(([name]) => `x.${name}`).join(', ')}
  FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (${COLUMNS.map(([name, type]) => `${name} ${type}`).join(', ')}))
    WITH ORDINALITY AS x(${NAMES}, ord)
  ORDER BY x.ord`

// INSERT_SQL for a lane batch: $3 producer, $4 lane, $5 the first stored event's seq, $6 the raw texts
// (a text[] literal) and $7 the chain hashes, 32 bytes each, all matched by position.
const INSERT_LANE_SQL = `INSERT INTO audit_events (event_id, ${NAMES}, producer_id, lane, lane_seq, raw, chain_hash)
  SELECT ($2::uuid[])[x.ord], ${COLUMNS.map(([name]) => `x.${name}`).join(', ')},
    $3::uuid, $4::integer, $5::bigint + x.ord - 1, ($6::text[])[x.ord], substring($7::bytea FROM ((x.ord - 1) * 32 + 1)::integer FOR 32)
  FROM ROWS FROM (jsonb_to_recordset($1::jsonb) AS (${COLUMNS.map(([name, type]) => `${name} ${type}`).join(', ')}))
    WITH ORDINALITY AS x(${NAMES}, ord)
  ORDER BY x.ord`

const UPDATE_RESPONSE_SQL = 'UPDATE idempotency_keys SET status_code = $2, response = $3::jsonb WHERE key = $1'

// Takes the key, or takes it over once its 24 hours are past; returns no row when it is held.
// The response goes in with the claim: it is known before the events are stored, and it
// commits or rolls back with them.
const CLAIM_SQL = `INSERT INTO idempotency_keys (key, request_hash, status_code, response) VALUES ($1, $2, $3, $4::jsonb)
  ON CONFLICT (key) DO UPDATE SET request_hash = EXCLUDED.request_hash, status_code = EXCLUDED.status_code, response = EXCLUDED.response, created_at = now()
    WHERE idempotency_keys.created_at < now() - ${KEY_TTL}
  RETURNING key`

// COPY's column list: the same columns, in the order copyChunks writes them.
const COPY_TARGET = `audit_events (event_id, ${NAMES})`
const COPY_LANE_TARGET = `audit_events (event_id, ${NAMES}, producer_id, lane, lane_seq, raw, chain_hash)`

// The columns' names and whether each is jsonb, as flat arrays: copyChunks reads them once per cell.
const COLUMN_NAMES: readonly string[] = COLUMNS.map(([name]) => name)
const IS_JSONB: readonly boolean[] = COLUMNS.map(([, type]) => type === 'jsonb')

/**
 * The rows in COPY's text format: a tab between columns, a newline after a
 * row, `\N` for null, and backslash, tab, newline and carriage return
 * escaped. jsonb columns are their JSON text; the rest is the value's text,
 * which PostgreSQL parses with the same input functions as an INSERT.
 * Yielded {@link COPY_CHUNK_ROWS} rows at a time, each chunk encoded only
 * when the COPY asks for it: PostgreSQL parses and indexes one chunk while
 * this encodes the next, instead of waiting for the whole batch's text.
 */
function * copyChunks (events: readonly AuditEvent[], eventIds: readonly string[], lane?: LaneRows): Generator<string> {
  let text = ''
  for (let i = 0; i < events.length; i++) {
    const event = events[i] as Record<string, unknown>
    text += eventIds[i]!
    for (let c = 0; c < COLUMN_NAMES.length; c++) {
      const value = event[COLUMN_NAMES[c]!]
      if (value === undefined || value === null) text += '\t\\N'
      else if (typeof value === 'string' && !IS_JSONB[c]!) text += '\t' + escapeCopy(value)
      else text += '\t' + escapeCopy(IS_JSONB[c]! || typeof value === 'object' ? JSON.stringify(value) : String(value))
    }
    // bytea's hex input is \x<hex>; COPY's text format wants that backslash doubled.
    if (lane !== undefined) text += `\t${lane.producerId}\t${lane.lane}\t${lane.seq + i}\t${escapeCopy(lane.raws[i]!)}\t\\\\x${lane.hashes.toString('hex', i * 32, i * 32 + 32)}`
    text += '\n'
    if (i % COPY_CHUNK_ROWS === COPY_CHUNK_ROWS - 1) {
      yield text
      text = ''
    }
  }
  if (text !== '') yield text
}

/** Rows per chunk of a COPY's input: about 60 KB of events of 550 B. */
const COPY_CHUNK_ROWS = 100

// Most values have none of these: the test is cheaper than a replace that finds nothing.
const COPY_SPECIAL = /[\\\t\n\r]/
const COPY_SPECIALS = /[\\\t\n\r]/g
const COPY_ESCAPES: Record<string, string> = { '\\': '\\\\', '\t': '\\t', '\n': '\\n', '\r': '\\r' }
function escapeCopy (text: string): string {
  return COPY_SPECIAL.test(text) ? text.replace(COPY_SPECIALS, (c) => COPY_ESCAPES[c]!) : text
}

/** The lane columns of rows to store: the batch's tail from `seq` on. */
interface LaneRows {
  readonly producerId: string
  readonly lane: number
  /** Seq of the first row. */
  readonly seq: number
  readonly raws: readonly string[]
  /** 32 bytes per row. */
  readonly hashes: Buffer
}

// The texts as a PostgreSQL text[] literal: each element quoted, with quote and backslash escaped.
const ARRAY_SPECIALS = /["\\]/g
function textArray (texts: readonly string[]): string {
  let out = '{'
  for (let i = 0; i < texts.length; i++) out += (i === 0 ? '"' : ',"') + texts[i]!.replace(ARRAY_SPECIALS, '\\$&') + '"'
  return out + '}'
}

/**
 * The events as INSERT_SQL's jsonb array. Events holding only known columns
 * (what clients send) are serialized as they are, in one call; any other
 * field is left out, so that unknown fields are ignored and never reach the
 * jsonb parser.
 */
function jsonRows (events: readonly AuditEvent[]): string {
  if (events.every(onlyColumns)) return JSON.stringify(events)
  return JSON.stringify(events.map((event) => {
    const row: Record<string, unknown> = {}
    for (const name of COLUMN_NAMES) row[name] = (event as Record<string, unknown>)[name]
    return row
  }))
}

/**
 * `text` as jsonb's binary input: a version byte (1), then the JSON text.
 * Both drivers send a Buffer parameter as it is, in binary; a string PGlite
 * would encode in JavaScript, character by character (5 % of an ingest).
 */
function jsonbParameter (text: string): Buffer {
  const bytes = Buffer.allocUnsafe(1 + Buffer.byteLength(text))
  bytes[0] = 1
  bytes.write(text, 1)
  return bytes
}

function onlyColumns (event: AuditEvent): boolean {
  for (const key in event) if (!KNOWN_COLUMNS.has(key)) return false
  return true
}

/** How a batch reaches the table: `COPY ... FROM STDIN`, or one INSERT of a jsonb array. @internal */
export type IngestMethod = 'copy' | 'insert'

/** The columns of an event as the API returns it. @internal */
export const SELECT_COLUMNS = `event_id, event_date::text AS event_date, ${NAMES}`

/** What the server answers to a write, kept for idempotent replays. */
export interface StoredResponse {
  readonly statusCode: number
  readonly body: unknown
}

/** The outcome of an idempotent write. @internal */
export type WriteOutcome =
  | { readonly kind: 'stored', readonly response: StoredResponse, readonly eventIds: string[] }
  | { readonly kind: 'replayed', readonly response: StoredResponse }
  | { readonly kind: 'conflict' }

/** Filters of a query; each is optional. @internal */
export interface EventFilters {
  readonly event_type?: string
  readonly event_category?: string
  readonly event_outcome?: string
  readonly severity?: string
  readonly correlation_id?: string
  readonly actor_type?: string
  readonly actor_id?: string
  readonly resource_type?: string
  readonly resource_id?: string
  readonly namespace?: string
  /** Oldest first (`asc`, the default) or newest first (`desc`). */
  readonly order?: 'asc' | 'desc'
  readonly since?: Date
  readonly until?: Date
  /** A top-level field of `event_data` and the text it must equal (`event_data ->> key = value`). */
  readonly detail?: { readonly key: string, readonly value: string }
  readonly limit: number
  readonly offset: number
}

/** A page of events. @internal */
export interface EventPage {
  readonly data: Array<Record<string, unknown>>
  readonly total: number
}

/** @internal */
export class AuditRepository {
  readonly #db: Database
  // COPY by default, measured faster on both engines (README, "Running at scale"); the INSERT is what is left without pg-copy-streams.
  readonly #ingest: IngestMethod

  constructor (db: Database, ingest: IngestMethod = 'copy') {
    this.#db = db
    this.#ingest = ingest
  }

  /**
   * Inserts `events` in one transaction. With an idempotency key, a key
   * already committed returns the first response and inserts nothing; a
   * concurrent request with the same key waits for the first to commit
   * (the key's primary key serializes them). `respond` builds the response
   * from the new event ids.
   */
  async insert (events: readonly AuditEvent[], key: string | undefined, requestHash: string, respond: (eventIds: string[]) => StoredResponse, lane?: LaneBatch): Promise<WriteOutcome> {
    const eventIds = events.map(() => randomUUID())
    const response = respond(eventIds)
    return this.#db.transaction(async (tx) => {
      if (key !== undefined) {
        const claimed = await tx.query(CLAIM_SQL, [key, requestHash, response.statusCode, JSON.stringify(response.body)])
        if (claimed.rows.length === 0) return this.#replay(tx, key, requestHash)
      }
      if (lane === undefined) {
        await this.#store(tx, events, eventIds)
        return { kind: 'stored', response, eventIds }
      }
      return this.#insertLane(tx, events, eventIds, response, key, lane, respond)
    })
  }

  /**
   * The lane rules under the lane's row lock, then the events the lane does
   * not hold yet. The key claimed with the provisional response is updated
   * when the answer differs (a duplicate or an overlap), so that a replay of
   * the key answers the same; a 409 rolls the claim back with everything else.
   */
  async #insertLane (tx: SqlClient, events: readonly AuditEvent[], eventIds: string[], response: StoredResponse, key: string | undefined, lane: LaneBatch,
    respond: (eventIds: string[]) => StoredResponse): Promise<WriteOutcome> {
    const state = await lockLane(tx, lane.producerId, lane.lane)
    const admission = await admitBatch(tx, lane, state)
    if (admission.kind === 'duplicate') {
      const ids = admission.storedIds
      const replay: StoredResponse = { statusCode: 200, body: { event_ids: ids, message: `${ids.length} audit events already stored` } }
      if (key !== undefined) await tx.query(UPDATE_RESPONSE_SQL, [key, replay.statusCode, JSON.stringify(replay.body)])
      return { kind: 'replayed', response: replay }
    }
    const from = admission.from
    const newIds = from === 0 ? eventIds : eventIds.slice(from)
    const rows: LaneRows = {
      producerId: lane.producerId,
      lane: lane.lane,
      seq: lane.seq + from,
      raws: from === 0 ? lane.raws : lane.raws.slice(from),
      hashes: lane.hashes.subarray(from * 32)
    }
    await this.#store(tx, from === 0 ? events : events.slice(from), newIds, rows)
    const last = lane.seq + lane.raws.length - 1
    await advanceLane(tx, lane.producerId, lane.lane, last, lane.hashes.toString('hex', (lane.raws.length - 1) * 32))
    if (from === 0) return { kind: 'stored', response, eventIds }
    const all = [...admission.storedIds, ...newIds]
    const answer = respond(all)
    if (key !== undefined) await tx.query(UPDATE_RESPONSE_SQL, [key, answer.statusCode, JSON.stringify(answer.body)])
    return { kind: 'stored', response: answer, eventIds: newIds }
  }

  // One batch into the table, by the engine's faster path; the lane columns only when `lane` is given.
  async #store (tx: SqlClient, events: readonly AuditEvent[], eventIds: readonly string[], lane?: LaneRows): Promise<void> {
    if (this.#ingest === 'copy' && tx.copyFrom !== undefined) {
      await tx.copyFrom(lane === undefined ? COPY_TARGET : COPY_LANE_TARGET, copyChunks(events, eventIds, lane))
    } else if (lane === undefined) {
      await tx.query(INSERT_SQL, [jsonbParameter(jsonRows(events)), `{${eventIds.join(',')}}`])
    } else {
      await tx.query(INSERT_LANE_SQL, [jsonbParameter(jsonRows(events)), `{${eventIds.join(',')}}`, lane.producerId, lane.lane, lane.seq, textArray(lane.raws), lane.hashes])
    }
  }

  async #replay (tx: SqlClient, key: string, requestHash: string): Promise<WriteOutcome> {
    const { rows } = await tx.query<{ request_hash: string, status_code: number, response: unknown }>(
      'SELECT request_hash, status_code, response FROM idempotency_keys WHERE key = $1', [key]
    )
    const row = rows[0]
    if (row === undefined || row.request_hash !== requestHash) return { kind: 'conflict' }
    return { kind: 'replayed', response: { statusCode: row.status_code, body: row.response } }
  }

  /** Events matching `filters`, ordered by timestamp then insertion (reversed for `desc`), and the total count. */
  async find (filters: EventFilters): Promise<EventPage> {
    const { clause, params } = filterClause(filters)
    const total = await this.#db.query<{ total: number }>(`SELECT count(*)::int AS total FROM audit_events ${clause}`, params)
    const page = await this.#db.query<Record<string, unknown>>(
      `SELECT ${SELECT_COLUMNS} FROM audit_events ${clause} ${orderBy(filters)} LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
      [...params, filters.limit, filters.offset]
    )
    return { data: page.rows.map(toApi), total: Number(total.rows[0]?.total ?? 0) }
  }

  /** Deletes idempotency keys older than 24 hours. */
  async purgeExpiredKeys (): Promise<void> {
    await this.#db.query(`DELETE FROM idempotency_keys WHERE created_at < now() - ${KEY_TTL}`)
  }
}

/**
 * The WHERE clause of `filters` (empty when there are none) and its
 * parameters, numbered from $1; limit, offset and order are not part of it.
 * @internal
 */
export function filterClause (filters: EventFilters): { readonly clause: string, readonly params: unknown[] } {
  const where: string[] = []
  const params: unknown[] = []
  const add = (sql: string, value: unknown): void => {
    params.push(value)
    where.push(sql.replace('?', `$${params.length}`))
  }
  for (const column of ['event_type', 'event_category', 'event_outcome', 'severity', 'correlation_id', 'actor_type', 'actor_id', 'resource_type', 'resource_id', 'namespace'] as const) {
    const value = filters[column]
    if (value !== undefined) add(`${column} = ?`, value)
  }
  if (filters.since !== undefined) add('event_timestamp >= ?', filters.since.toISOString())
  if (filters.until !== undefined) add('event_timestamp <= ?', filters.until.toISOString())
  if (filters.detail !== undefined) {
    // Both the key and the value are parameters: the key never becomes statement text.
    params.push(filters.detail.key, filters.detail.value)
    where.push(`event_data ->> $${params.length - 1}::text = $${params.length}::text`)
  }
  return { clause: where.length === 0 ? '' : `WHERE ${where.join(' AND ')}`, params }
}

/** The ORDER BY of `filters.order`: timestamp, then insertion order as the tie-break. @internal */
export function orderBy (filters: Pick<EventFilters, 'order'>): string {
  return filters.order === 'desc' ? 'ORDER BY event_timestamp DESC, seq DESC' : 'ORDER BY event_timestamp, seq'
}

/**
 * A row as the API returns it: drivers give timestamptz as Date, the API speaks RFC 3339 strings and omits absent fields.
 * @internal
 */
export function toApi (row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(row)) {
    if (value === null) continue
    out[key] = value instanceof Date ? value.toISOString() : value
  }
  return out
}
