/**
 * Reading lanes back for verification: a lane's rows as the verifier takes
 * them (the stored hash, the raw text and the served form, built by the same
 * {@link toApi} as `GET /api/v1/audit/events`, so that an edited column shows),
 * its notes, and the lanes themselves.
 */
import type { ChainRow } from '../chain/verify-chain.js'
import { SELECT_COLUMNS, toApi } from './audit-repository.js'
import type { Database } from './database.js'

/** Rows read per query while loading a range: what one round trip holds in the driver at once. */
const PAGE_ROWS = 5_000

/** A lane's position, as `GET /api/v1/audit/lanes` lists it. @internal */
export interface LaneSummary {
  readonly producer_id: string
  readonly lane: number
  readonly last_seq: number
  /** With a correlation id: the lowest lane seq of its events. */
  readonly from?: number
  /** With a correlation id: the highest lane seq of its events. */
  readonly to?: number
}

/** A stored note. @internal */
export interface StoredNote {
  readonly kind: 'checkpoint' | 'skip'
  /** A checkpoint's seq, or a skip's `to`. */
  readonly seq: number
  /** A skip's `from`; undefined for a checkpoint. */
  readonly from: number | undefined
  readonly text: string
}

interface LaneRow extends Record<string, unknown> {
  trail_lane_seq: string
  trail_raw: string | null
  trail_hash: string | null
  trail_order: string
}

const ROWS_SQL = `SELECT ${SELECT_COLUMNS}, lane_seq::text AS trail_lane_seq, raw AS trail_raw, encode(chain_hash, 'hex') AS trail_hash, seq::text AS trail_order
  FROM audit_events
  WHERE producer_id = $1 AND lane = $2 AND lane_seq >= $3 AND lane_seq <= $4 AND lane_seq >= $5::bigint AND (lane_seq, seq) > ($5::bigint, $6::bigint)
  ORDER BY lane_seq, seq LIMIT $7`

/** @internal */
export class LaneQueries {
  readonly #db: Database

  constructor (db: Database) {
    this.#db = db
  }

  /**
   * The lane's rows with lane seqs from..to, sorted by lane seq (then by
   * insertion, so that two rows claiming one seq both show), at most `limit`.
   * Read in keyset pages of {@link PAGE_ROWS}.
   */
  async rows (producerId: string, lane: number, from: number, to: number, limit: number): Promise<ChainRow[]> {
    const out: ChainRow[] = []
    let after: [string, string] = ['0', '0']
    while (out.length < limit) {
      const { rows } = await this.#db.query<LaneRow>(ROWS_SQL, [producerId, lane, from, to, after[0], after[1], Math.min(PAGE_ROWS, limit - out.length)])
      for (const row of rows) out.push(chainRow(row))
      const last = rows.at(-1)
      if (last === undefined || rows.length < PAGE_ROWS) break
      after = [last.trail_lane_seq, last.trail_order]
    }
    return out
  }

  /** Every note of the lane, in seq order, then in the order received. */
  async notes (producerId: string, lane: number): Promise<StoredNote[]> {
    const { rows } = await this.#db.query<{ kind: 'checkpoint' | 'skip', seq: string, from_seq: string | null, text: string }>(
      'SELECT kind, seq::text AS seq, from_seq::text AS from_seq, text FROM trail_notes WHERE producer_id = $1 AND lane = $2 ORDER BY seq, note_id', [producerId, lane]
    )
    return rows.map((r) => ({ kind: r.kind, seq: Number(r.seq), from: r.from_seq === null ? undefined : Number(r.from_seq), text: r.text }))
  }

  /** The highest seq the lane knows of: its state, its rows and its notes. 0 for an unknown lane. */
  async highestSeq (producerId: string, lane: number): Promise<number> {
    const { rows } = await this.#db.query<{ seq: string }>(`SELECT greatest(
        (SELECT last_seq FROM trail_lanes WHERE producer_id = $1 AND lane = $2),
        (SELECT max(lane_seq) FROM audit_events WHERE producer_id = $1 AND lane = $2),
        (SELECT max(seq) FROM trail_notes WHERE producer_id = $1 AND lane = $2), 0)::text AS seq`, [producerId, lane])
    return Number(rows[0]?.seq ?? 0)
  }

  /** The key pinned by the producer's first signed note (SPKI PEM), if any. */
  async pinnedKey (producerId: string): Promise<string | undefined> {
    const { rows } = await this.#db.query<{ public_key: string }>('SELECT public_key FROM trail_producers WHERE producer_id = $1', [producerId])
    return rows[0]?.public_key
  }

  /**
   * Every lane (at most `limit`, by producer and lane), or with
   * `correlationId` the lanes holding its events, each with the range of
   * lane seqs those events have.
   */
  async lanes (correlationId: string | undefined, limit: number): Promise<LaneSummary[]> {
    if (correlationId === undefined) {
      const { rows } = await this.#db.query<{ producer_id: string, lane: number, last_seq: string }>(
        'SELECT producer_id::text AS producer_id, lane, last_seq::text AS last_seq FROM trail_lanes ORDER BY producer_id, lane LIMIT $1', [limit]
      )
      return rows.map((r) => ({ producer_id: r.producer_id, lane: r.lane, last_seq: Number(r.last_seq) }))
    }
    const { rows } = await this.#db.query<{ producer_id: string, lane: number, last_seq: string | null, from: string, to: string }>(
      `SELECT e.producer_id::text AS producer_id, e.lane, l.last_seq::text AS last_seq, e.from::text AS from, e.to::text AS to
         FROM (SELECT producer_id, lane, min(lane_seq) AS from, max(lane_seq) AS to FROM audit_events
                WHERE correlation_id = $1 AND producer_id IS NOT NULL GROUP BY producer_id, lane) e
         LEFT JOIN trail_lanes l ON l.producer_id = e.producer_id AND l.lane = e.lane
        ORDER BY e.producer_id, e.lane LIMIT $2`, [correlationId, limit]
    )
    return rows.map((r) => ({ producer_id: r.producer_id, lane: r.lane, last_seq: Number(r.last_seq ?? 0), from: Number(r.from), to: Number(r.to) }))
  }
}

// One row as the verifier takes it; the served form is exactly what GET /api/v1/audit/events answers.
function chainRow (row: LaneRow): ChainRow {
  const { trail_lane_seq: seq, trail_raw: raw, trail_hash: hash, trail_order: _order, ...served } = row
  return { seq: Number(seq), hash: hash ?? '', raw: raw ?? '', event: toApi(served) }
}
