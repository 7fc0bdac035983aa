/**
 * A lane's state on the server, `(last_seq, head)` per (producer, lane) in
 * `trail_lanes`, and the idempotent-producer rules that move it (Kafka's,
 * over HTTP). Every function here runs inside the caller's transaction, after
 * {@link lockLane} took the lane's row lock, so that two servers on one
 * PostgreSQL database cannot both admit the same seq: the second waits for
 * the first to commit and then sees its `last_seq`.
 */
import type { SqlClient } from './database.js'
import { hashAt, type LaneBatch } from './lane-batch.js'
import { HttpProblem } from './problem.js'
import { SEQUENCE_CONFLICT, SEQUENCE_GAP } from '../protocol/wire.js'

/** h_0 as hex: the head of a lane nothing has been stored in. */
const GENESIS_HEX = '0'.repeat(64)

/** The problem type of a batch that starts past the lane's next seq (retryable once the earlier batches settle). @internal */
export { SEQUENCE_GAP }
/** The problem type of a batch that does not continue the lane's chain (not retryable). @internal */
export { SEQUENCE_CONFLICT }

/** A lane's state, read under its row lock. @internal */
export interface LaneState {
  readonly lastSeq: number
  /** h at lastSeq, lowercase hex. */
  readonly head: string
}

/** What {@link admitBatch} decided. @internal */
export type Admission =
  /** Store the events from index `from` on; `storedIds` are the ids already stored for the ones before it. */
  | { readonly kind: 'store', readonly from: number, readonly storedIds: string[] }
  /** Every event is stored already: answer with their ids. */
  | { readonly kind: 'duplicate', readonly storedIds: string[] }

/** A 409 for a batch or skip that starts past `expected`. @internal */
export function sequenceGap (expected: number, first: number): HttpProblem {
  return new HttpProblem(409, 'Conflict', `the lane expects seq ${expected} next, got ${first}; retry once the earlier batches are stored`, { type: SEQUENCE_GAP, expected_seq: expected })
}

/** A 409 for a batch or skip that contradicts what the lane holds. @internal */
export function sequenceConflict (expected: number, detail: string): HttpProblem {
  return new HttpProblem(409, 'Conflict', detail, { type: SEQUENCE_CONFLICT, expected_seq: expected })
}

/**
 * Takes the row lock of the lane, creating its row at `(0, GENESIS)` the
 * first time, and returns its state. A lane that exists costs one SELECT.
 * @internal
 */
export async function lockLane (tx: SqlClient, producerId: string, lane: number): Promise<LaneState> {
  const select = async (): Promise<LaneState | undefined> => {
    const { rows } = await tx.query<{ last_seq: string, head: string }>(
      "SELECT last_seq::text AS last_seq, encode(head, 'hex') AS head FROM trail_lanes WHERE producer_id = $1 AND lane = $2 FOR UPDATE", [producerId, lane]
    )
    const row = rows[0]
    return row === undefined ? undefined : { lastSeq: Number(row.last_seq), head: row.head }
  }
  const state = await select()
  if (state !== undefined) return state
  // Two first batches of one lane at once: the second INSERT waits for the first's commit, then does nothing.
  await tx.query("INSERT INTO trail_lanes (producer_id, lane, last_seq, head) VALUES ($1, $2, 0, decode($3, 'hex')) ON CONFLICT DO NOTHING", [producerId, lane, GENESIS_HEX])
  return (await select())!
}

/** Sets the locked lane's state. @internal */
export async function advanceLane (tx: SqlClient, producerId: string, lane: number, lastSeq: number, head: string): Promise<void> {
  await tx.query("UPDATE trail_lanes SET last_seq = $3, head = decode($4, 'hex') WHERE producer_id = $1 AND lane = $2", [producerId, lane, lastSeq, head])
}

/**
 * Applies the lane rules to `batch` against the locked `state`:
 * - starts at last_seq + 1 and its prev-hash is the head: store it all;
 * - starts at last_seq + 1 with another prev-hash: 409 sequence-conflict;
 * - starts past last_seq + 1: 409 sequence-gap with `expected_seq`;
 * - ends at or below last_seq: a duplicate when its recomputed hash at its
 *   last seq is the one stored there (answered with the stored ids), else 409 conflict;
 * - overlaps (starts at or below last_seq, ends above): its hash at last_seq
 *   must be the head (else 409 conflict); the events above last_seq are stored.
 * @internal
 * @throws {@link HttpProblem} 409 for a gap or a conflict
 */
export async function admitBatch (tx: SqlClient, batch: LaneBatch, state: LaneState): Promise<Admission> {
  const expected = state.lastSeq + 1
  const last = batch.seq + batch.raws.length - 1
  if (batch.seq > expected) throw sequenceGap(expected, batch.seq)
  if (batch.seq === expected) {
    if (batch.prev !== state.head) throw sequenceConflict(expected, `audit-stream-prev-hash is not the lane's head at seq ${state.lastSeq}`)
    return { kind: 'store', from: 0, storedIds: [] }
  }
  if (last <= state.lastSeq) {
    const { rows } = await tx.query<{ hash: string }>(
      "SELECT encode(chain_hash, 'hex') AS hash FROM audit_events WHERE producer_id = $1 AND lane = $2 AND lane_seq = $3", [batch.producerId, batch.lane, last]
    )
    if (rows.length !== 1 || rows[0]!.hash !== hashAt(batch, batch.raws.length - 1)) {
      throw sequenceConflict(expected, `seqs ${batch.seq} to ${last} are already settled with other events`)
    }
    return { kind: 'duplicate', storedIds: await storedIds(tx, batch, batch.seq, last) }
  }
  if (hashAt(batch, state.lastSeq - batch.seq) !== state.head) {
    throw sequenceConflict(expected, `the batch overlaps the lane but its hash at seq ${state.lastSeq} is not the lane's head`)
  }
  return { kind: 'store', from: state.lastSeq - batch.seq + 1, storedIds: await storedIds(tx, batch, batch.seq, state.lastSeq) }
}

// The ids stored at from..to, in seq order (seqs a skip covers have none).
async function storedIds (tx: SqlClient, batch: LaneBatch, from: number, to: number): Promise<string[]> {
  const { rows } = await tx.query<{ event_id: string }>(
    'SELECT event_id FROM audit_events WHERE producer_id = $1 AND lane = $2 AND lane_seq BETWEEN $3 AND $4 ORDER BY lane_seq', [batch.producerId, batch.lane, from, to]
  )
  return rows.map((r) => r.event_id)
}
