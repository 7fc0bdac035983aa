/**
 * The read queries behind the trail browser: one event by id, every event
 * of a query in keyset pages (for the JSONL export), and a histogram of a
 * query by outcome. Parameterized SQL only, with the filters of
 * `GET /api/v1/audit/events` (see `filterClause`).
 */
import { filterClause, orderBy, SELECT_COLUMNS, toApi, type EventFilters } from './audit-repository.js'
import type { SqlClient } from './database.js'

/** Rows per query of an export: small enough to keep memory flat, large enough to keep round trips few. */
const EXPORT_PAGE = 1_000
/** The histogram never has more bars than this. */
const MAX_BUCKETS = 120
/** Bucket widths in seconds: the smallest that keeps the bars under MAX_BUCKETS is used. */
const WIDTHS = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1_800, 3_600, 7_200, 10_800, 21_600, 43_200, 86_400, 172_800, 604_800, 2_592_000, 7_776_000, 31_536_000]

/** Counts of one histogram bar. @internal */
export interface HistogramBucket {
  /** RFC 3339 start of the bar; it covers `[start, start + bucket_seconds)`. */
  readonly start: string
  readonly success: number
  readonly failure: number
  readonly pending: number
}

/** Events over time by outcome, for a chart. @internal */
export interface Histogram {
  readonly total: number
  readonly bucket_seconds: number
  /** Dense: every bar from the first event's to the last's, empty ones included. */
  readonly buckets: HistogramBucket[]
}

/** @internal */
export class TrailQueries {
  readonly #db: SqlClient

  constructor (db: SqlClient) {
    this.#db = db
  }

  /** The event with this id (a UUID), or undefined. */
  async get (eventId: string): Promise<Record<string, unknown> | undefined> {
    const { rows } = await this.#db.query<Record<string, unknown>>(`SELECT ${SELECT_COLUMNS} FROM audit_events WHERE event_id = $1`, [eventId])
    return rows[0] === undefined ? undefined : toApi(rows[0])
  }

  /**
   * Every event matching `filters` in their order, `limit` and `offset`
   * ignored. Keyset pages: each page is one short query that starts after
   * the last row of the one before, so a slow reader holds no connection and
   * a deep page costs what the first one does. The cursor keeps the
   * timestamp as PostgreSQL's text, since a JavaScript Date drops microseconds.
   */
  async * stream (filters: EventFilters): AsyncGenerator<Record<string, unknown>> {
    const { clause, params } = filterClause(filters)
    const after = filters.order === 'desc' ? '<' : '>'
    let cursor: [string, string] | undefined
    for (;;) {
      const keyset = cursor === undefined
        ? ''
        : `${clause === '' ? 'WHERE' : ' AND'} (event_timestamp, seq) ${after} ($${params.length + 1}::timestamptz, $${params.length + 2}::bigint)`
      const { rows } = await this.#db.query<Record<string, unknown> & { cursor_ts: string, cursor_seq: string }>(
        `SELECT ${SELECT_COLUMNS}, event_timestamp::text AS cursor_ts, seq::text AS cursor_seq FROM audit_events ${clause}${keyset} ${orderBy(filters)} LIMIT ${EXPORT_PAGE}`,
        cursor === undefined ? params : [...params, ...cursor]
      )
      for (const { cursor_ts: _ts, cursor_seq: _seq, ...row } of rows) yield toApi(row)
      const last = rows.at(-1)
      if (last === undefined || rows.length < EXPORT_PAGE) return
      cursor = [last.cursor_ts, last.cursor_seq]
    }
  }

  /**
   * Events matching `filters` counted per time bucket and outcome. The
   * bucket width is the smallest of a fixed list that keeps the chart at
   * most 120 bars from the first matching event to the last.
   */
  async histogram (filters: EventFilters): Promise<Histogram> {
    const { clause, params } = filterClause(filters)
    const range = await this.#db.query<{ total: number, first: string | null, last: string | null }>(
      `SELECT count(*)::int AS total, floor(extract(epoch FROM min(event_timestamp)))::text AS first, floor(extract(epoch FROM max(event_timestamp)))::text AS last FROM audit_events ${clause}`,
      params
    )
    const { total, first, last } = range.rows[0] ?? { total: 0, first: null, last: null }
    if (total === 0 || first === null || last === null) return { total: 0, bucket_seconds: WIDTHS[0]!, buckets: [] }
    const span = Number(last) - Number(first)
    const width = WIDTHS.find((w) => Math.floor(Number(last) / w) - Math.floor(Number(first) / w) < MAX_BUCKETS) ?? Math.ceil(span / (MAX_BUCKETS - 1))
    const counts = await this.#db.query<{ bucket: string, event_outcome: string, n: number }>(
      `SELECT floor(extract(epoch FROM event_timestamp) / $${params.length + 1})::bigint::text AS bucket, event_outcome, count(*)::int AS n
       FROM audit_events ${clause} GROUP BY 1, 2`,
      [...params, width]
    )
    const firstBucket = Math.floor(Number(first) / width)
    const buckets = Array.from({ length: Math.floor(Number(last) / width) - firstBucket + 1 }, (_, i) => ({
      start: new Date((firstBucket + i) * width * 1000).toISOString(), success: 0, failure: 0, pending: 0
    }))
    for (const { bucket, event_outcome: outcome, n } of counts.rows) {
      const bar = buckets[Number(bucket) - firstBucket]
      if (bar !== undefined && (outcome === 'success' || outcome === 'failure' || outcome === 'pending')) bar[outcome] += n
    }
    return { total, bucket_seconds: width, buckets }
  }
}
