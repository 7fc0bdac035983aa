/**
 * A batch: what the batcher emits and a sink sends as one request.
 */
import { appendSeqs, type SeqRanges } from './seq-ranges.js'

/**
 * Where a batch sits in its lane's chain (see `lanes` in {@link AuditStoreOptions}):
 * sent as the `audit-stream-*` request headers.
 *
 * @example
 * ```ts
 * const head = batch.trail?.hashes.subarray(-32).toString('hex')
 * ```
 */
export interface BatchTrail {
  /** The store's producer id (a UUID). */
  readonly producerId: string
  /** The lane, `laneOf(correlation_id, lanes)`. */
  readonly lane: number
  /** The lane seq of the first event; the others follow it, without gaps. */
  readonly seq: number
  /** h_{seq-1}: the chain hash before the first event (32 zero bytes at seq 1). */
  readonly prev: Buffer
  /** Each event's chain hash, 32 bytes each, parallel to `events`. */
  readonly hashes: Buffer
}

/**
 * Serialized events sent together. The id doubles as the request's idempotency key.
 *
 * @example
 * ```ts
 * protected async sendBatch (batch: Batch) {
 *   await post('/audit', batchBody(batch), { 'idempotency-key': batch.id })
 * }
 * ```
 */
export interface Batch {
  /** A UUID; the same on every attempt to send this batch. */
  readonly id: string
  /** The serialized events, in the order they were accepted. */
  readonly events: readonly string[]
  /** The UTF-8 size of each event in bytes, parallel to `events`. */
  readonly sizes: readonly number[]
  /** Size in bytes of the JSON array body: the events, the commas between them and the brackets. */
  readonly bytes: number
  /**
   * The store's sequence number of the first event. Every event accepted by
   * a store is numbered at the entry, from 0, in order; the numbers stay
   * inside the client and are never sent.
   */
  readonly firstSeq: number
  /** The sequence number of the last event. */
  readonly lastSeq: number
  /**
   * The sequence numbers of all the events, as ascending inclusive ranges
   * flattened into `[first, last, first, last, ...]`: one range
   * (`[firstSeq, lastSeq]`) unless an invalid event or a split left gaps.
   */
  readonly seqs: readonly number[]
  /** The batch's place in its lane's chain; absent when the store has `lanes: 0`. */
  readonly trail?: BatchTrail | undefined
}

/** The body size of a batch with no events: `[]`. @internal */
export const EMPTY_BODY_BYTES = 2

/**
 * The body size once an event of `size` bytes joins a body of `bytes` bytes
 * holding `count` events: each event after the first adds a comma.
 * @internal
 */
export function bodyBytesWith (bytes: number, count: number, size: number): number {
  return bytes + size + (count > 0 ? 1 : 0)
}

/**
 * Makes a batch: the one place a {@link Batch} is put together, whether cut
 * by the batcher (a fresh id), split from another or recovered from a spool.
 * @internal
 */
export function createBatch (id: string, events: readonly string[], sizes: readonly number[], bytes: number, seqs: SeqRanges, trail?: BatchTrail): Batch {
  const batch = { id, events, sizes, bytes, firstSeq: seqs[0]!, lastSeq: seqs.at(-1)!, seqs }
  return trail === undefined ? batch : { ...batch, trail }
}

/**
 * The JSON array body of a batch, joined from the already-serialized events.
 *
 * @param batch - the batch
 * @returns `[` + the events joined by `,` + `]`
 *
 * @example
 * ```ts
 * const body = batchBody(batch) // '[{"version":"1.0",...},{...}]'
 * ```
 */
export function batchBody (batch: Batch): string {
  return '[' + batch.events.join(',') + ']'
}

/**
 * The JSON array body of a batch as UTF-8 bytes, written straight into one
 * buffer from the already-serialized events. About ten times cheaper than
 * encoding {@link batchBody}'s string: no joined string is built.
 *
 * @param batch - the batch
 * @returns a Buffer of `batch.bytes` bytes
 * @example
 * ```ts
 * await request(url, { method: 'POST', body: batchBuffer(batch), headers: { 'content-type': 'application/json' } })
 * ```
 */
export function batchBuffer (batch: Batch): Buffer {
  const { events, sizes } = batch
  const buffer = Buffer.allocUnsafe(batch.bytes)
  let offset = 0
  buffer[offset++] = 0x5b // [
  for (let i = 0; i < events.length; i++) {
    if (i > 0) buffer[offset++] = 0x2c // ,
    const json = events[i]!
    // As many bytes as UTF-16 units means the text is ASCII, for which latin1 is UTF-8 and faster.
    offset += json.length === sizes[i] ? buffer.write(json, offset, 'latin1') : buffer.write(json, offset, 'utf8')
  }
  buffer[offset++] = 0x5d // ]
  return offset === buffer.length ? buffer : buffer.subarray(0, offset)
}

/**
 * The sequence number of each event of a batch, parallel to `events`.
 * @internal
 */
export function eventSeqs (batch: Batch): number[] {
  const out: number[] = []
  for (let i = 0; i + 1 < batch.seqs.length; i += 2) {
    for (let seq = batch.seqs[i]!; seq <= batch.seqs[i + 1]!; seq++) out.push(seq)
  }
  return out
}

/**
 * The events of `batch` at `indices` (ascending) as a batch of their own,
 * with the id given: derived from the parent's, so that resending it reuses
 * the same idempotency key.
 * @internal
 */
export function subBatch (batch: Batch, indices: readonly number[], id: string): Batch {
  const all = eventSeqs(batch)
  const events: string[] = []
  const sizes: number[] = []
  const seqs: number[] = []
  let bytes = EMPTY_BODY_BYTES
  for (const i of indices) {
    bytes = bodyBytesWith(bytes, events.length, batch.sizes[i]!)
    events.push(batch.events[i]!)
    sizes.push(batch.sizes[i]!)
    appendSeqs(seqs, all[i]!)
  }
  const trail = batch.trail
  if (trail === undefined) return createBatch(id, events, sizes, bytes, seqs)
  const first = indices[0]!
  if (indices.at(-1)! - first !== indices.length - 1) throw new Error('a sub-batch of a lane batch takes contiguous events')
  return createBatch(id, events, sizes, bytes, seqs, {
    producerId: trail.producerId,
    lane: trail.lane,
    seq: trail.seq + first,
    prev: first === 0 ? trail.prev : trail.hashes.subarray((first - 1) * 32, first * 32),
    hashes: trail.hashes.subarray(first * 32, (first + indices.length) * 32)
  })
}

/**
 * Consecutive runs of `indices` (ascending): a lane batch's pieces must each be contiguous.
 * @internal
 */
export function contiguousRuns (indices: readonly number[]): number[][] {
  const runs: number[][] = []
  for (const i of indices) {
    const last = runs.at(-1)
    if (last !== undefined && last.at(-1) === i - 1) last.push(i)
    else runs.push([i])
  }
  return runs
}

/**
 * Splits a batch in two halves, each with an id derived from the parent's
 * (`<id>.0`, `<id>.1`), so that resending a half reuses the same idempotency key.
 * @internal
 */
export function splitBatch (batch: Batch): [Batch, Batch] {
  const middle = Math.ceil(batch.events.length / 2)
  const indices = batch.events.map((_, i) => i)
  return [subBatch(batch, indices.slice(0, middle), `${batch.id}.0`), subBatch(batch, indices.slice(middle), `${batch.id}.1`)]
}
