/**
 * The spool's record format. A segment file is a sequence of frames:
 *
 * ```
 * frame   = length:u32le crc:u32le payload[length]      crc = CRC-32 (zlib.crc32) of payload
 * payload = 0x01 firstSeq:f64le count:u32le (size:u32le bytes[size]){count}   events (a run)
 *         | 0x02 json                                                        a batch cut: {"id","seqs"[,"trail"]}
 * ```
 *
 * Sequence numbers are the spool's own: they grow across restarts (see
 * lib/spool/seq-map.ts for how they map to a store's ledger numbers). A run
 * record carries the events one tick accepted, numbered from `firstSeq`; a
 * batch record names the batch id and the spool sequence numbers of its
 * events as ranges, written when the batch is cut.
 */
import { crc32 } from 'node:zlib'
import { HEX64 } from '../chain/chain-hash.js'

/** Bytes before a frame's payload: length and CRC. @internal */
export const FRAME_HEADER_BYTES = 8
const RUN = 0x01
const BATCH = 0x02
const RUN_HEADER_BYTES = 1 + 8 + 4

/** A decoded run record. @internal */
export interface RunRecord {
  readonly kind: 'run'
  readonly firstSeq: number
  readonly count: number
}

/**
 * A lane batch's place in its lane, as its cut record keeps it: enough to
 * send it again with the same headers, and to go on with the lane after it.
 * @internal
 */
export interface SpooledTrail {
  readonly producerId: string
  readonly lane: number
  /** The lane seq of the first event. */
  readonly seq: number
  /** h_{seq-1} in hex. */
  readonly prev: string
  /** The lane seq of the last event. */
  readonly last: number
  /** h_last in hex. */
  readonly head: string
}

/** A decoded batch record. @internal */
export interface BatchRecord {
  readonly kind: 'batch'
  readonly id: string
  /** Spool sequence numbers as ascending inclusive ranges, flattened. */
  readonly seqs: readonly number[]
  /** With lanes. */
  readonly trail?: SpooledTrail | undefined
}

/**
 * Frames a run of serialized events.
 * @param firstSeq - the spool sequence number of `events[0]`
 * @param sizes - each event's UTF-8 size
 * @internal
 */
export function encodeRun (firstSeq: number, events: readonly string[], sizes: readonly number[]): Buffer {
  let length = RUN_HEADER_BYTES
  for (const size of sizes) length += 4 + size
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + length)
  frame.writeUInt32LE(length, 0)
  let offset = FRAME_HEADER_BYTES
  frame[offset++] = RUN
  frame.writeDoubleLE(firstSeq, offset)
  offset += 8
  frame.writeUInt32LE(events.length, offset)
  offset += 4
  for (let i = 0; i < events.length; i++) {
    const json = events[i]!
    const size = sizes[i]!
    frame.writeUInt32LE(size, offset)
    offset += 4
    // As many bytes as UTF-16 units means ASCII, for which latin1 is UTF-8 and faster.
    offset += json.length === size ? frame.write(json, offset, 'latin1') : frame.write(json, offset, size, 'utf8')
  }
  frame.writeUInt32LE(crc32(frame.subarray(FRAME_HEADER_BYTES)), 4)
  return frame
}

/**
 * Frames a batch cut.
 * @param seqs - spool sequence numbers as ranges
 * @internal
 */
export function encodeBatch (id: string, seqs: readonly number[], trail?: SpooledTrail): Buffer {
  const json = Buffer.from(JSON.stringify(trail === undefined ? { id, seqs } : { id, seqs, trail }), 'utf8')
  const frame = Buffer.allocUnsafe(FRAME_HEADER_BYTES + 1 + json.length)
  frame.writeUInt32LE(1 + json.length, 0)
  frame[FRAME_HEADER_BYTES] = BATCH
  json.copy(frame, FRAME_HEADER_BYTES + 1)
  frame.writeUInt32LE(crc32(frame.subarray(FRAME_HEADER_BYTES)), 4)
  return frame
}

/** One frame read from a segment. @internal */
export type Frame = { readonly ok: true, readonly record: RunRecord | BatchRecord, readonly payload: Buffer, readonly end: number }
  | { readonly ok: false, readonly reason: 'torn' | 'crc' | 'malformed', readonly events: number }

/**
 * Reads the frame at `offset`. A frame cut short, one whose CRC does not
 * match, and one that does not decode are all bad: the segment ends there.
 * For a bad frame, `events` is how many events its header claims, when it
 * can be read (0 otherwise): a best effort at counting what was discarded.
 * @internal
 */
export function readFrame (buffer: Buffer, offset: number): Frame {
  if (offset + FRAME_HEADER_BYTES > buffer.length) return { ok: false, reason: 'torn', events: 0 }
  const length = buffer.readUInt32LE(offset)
  const start = offset + FRAME_HEADER_BYTES
  const claimed = start + RUN_HEADER_BYTES <= buffer.length && buffer[start] === RUN ? buffer.readUInt32LE(start + 9) : 0
  if (length === 0 || start + length > buffer.length) return { ok: false, reason: 'torn', events: claimed }
  const payload = buffer.subarray(start, start + length)
  if (crc32(payload) !== buffer.readUInt32LE(offset + 4)) return { ok: false, reason: 'crc', events: claimed }
  const record = decodeHeader(payload)
  if (record === undefined) return { ok: false, reason: 'malformed', events: 0 }
  return { ok: true, record, payload, end: start + length }
}

function decodeHeader (payload: Buffer): RunRecord | BatchRecord | undefined {
  if (payload[0] === RUN && payload.length >= RUN_HEADER_BYTES) {
    return { kind: 'run', firstSeq: payload.readDoubleLE(1), count: payload.readUInt32LE(9) }
  }
  if (payload[0] === BATCH) {
    try {
      const { id, seqs, trail } = JSON.parse(payload.toString('utf8', 1)) as { id: unknown, seqs: unknown, trail: unknown }
      if (typeof id === 'string' && Array.isArray(seqs) && seqs.every((n) => Number.isInteger(n))) {
        if (trail === undefined) return { kind: 'batch', id, seqs: seqs as number[] }
        if (isSpooledTrail(trail)) return { kind: 'batch', id, seqs: seqs as number[], trail }
      }
    } catch {
      // falls through: malformed
    }
  }
  return undefined
}

function isSpooledTrail (value: unknown): value is SpooledTrail {
  if (typeof value !== 'object' || value === null) return false
  const t = value as Record<string, unknown>
  return typeof t.producerId === 'string' && Number.isInteger(t.lane) && Number.isSafeInteger(t.seq) && Number.isSafeInteger(t.last) &&
    (t.last as number) >= (t.seq as number) && (t.seq as number) >= 1 && typeof t.prev === 'string' && HEX64.test(t.prev) &&
    typeof t.head === 'string' && HEX64.test(t.head)
}

/**
 * The events of a run record's payload.
 * @internal
 */
export function decodeRunEvents (payload: Buffer, count: number): { events: string[], sizes: number[] } {
  const events: string[] = []
  const sizes: number[] = []
  let offset = RUN_HEADER_BYTES
  for (let i = 0; i < count; i++) {
    const size = payload.readUInt32LE(offset)
    offset += 4
    events.push(payload.toString('utf8', offset, offset + size))
    sizes.push(size)
    offset += size
  }
  return { events, sizes }
}
