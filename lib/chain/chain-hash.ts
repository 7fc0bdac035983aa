/**
 * The per-lane hash chain: every event's hash commits to the
 * producer, the lane, its seq, the previous hash and the exact bytes the store
 * serialized, so a reader can recompute it without trusting the server.
 *
 * Preimage of h_i, 107 bytes:
 * ```
 * offset  size  field
 *      0    15  "audit-stream/v1" (ASCII)
 *     15    16  producer_id, the UUID's 16 bytes
 *     31     4  lane, u32 big-endian
 *     35     8  seq_i, u64 big-endian
 *     43    32  h_{i-1} (GENESIS, 32 zero bytes, before seq 1)
 *     75    32  SHA-256(event bytes)
 * ```
 */
import crypto from 'node:crypto'
import { InvalidOptionError } from '../errors.js'
import { UUID } from '../protocol/wire.js'

const DOMAIN = Buffer.from('audit-stream/v1', 'latin1')
const OFF_PRODUCER = DOMAIN.length
const OFF_LANE = OFF_PRODUCER + 16
const OFF_SEQ = OFF_LANE + 4
const OFF_PREV = OFF_SEQ + 8
const OFF_DIGEST = OFF_PREV + 32
const PREIMAGE_BYTES = OFF_DIGEST + 32
const TWO_32 = 2 ** 32

/**
 * The hash before a lane's first event: 32 zero bytes.
 *
 * @example
 * ```ts
 * const h1 = chainHash(producerId, 0, 1, GENESIS, eventDigest(json))
 * ```
 */
export const GENESIS: Buffer = Buffer.alloc(32)

/**
 * A chain hash written out: 64 lowercase hex digits, the one spelling that
 * notes, lane headers, the spool and the verifier accept.
 * @internal
 */
export const HEX64 = /^[0-9a-f]{64}$/

// crypto.hash (one-shot, no Hash object) exists from Node 20.12; older 20.x fall back.
const sha256: (data: string | Uint8Array) => Buffer = typeof crypto.hash === 'function'
  ? (data) => crypto.hash('sha256', data, 'buffer')
  : (data) => crypto.createHash('sha256').update(data).digest()
// The digest as a latin1 string (one char per byte): about half the cost of a Buffer per call,
// which for a chain of small hashes is most of it. Written into buffers with write(..., 'latin1').
const sha256Latin1: (data: string | Uint8Array) => string = typeof crypto.hash === 'function'
  ? (data) => crypto.hash('sha256', data, 'binary')
  : (data) => crypto.createHash('sha256').update(data).digest('binary')

/**
 * SHA-256 of one event's exact bytes; a string is hashed as its UTF-8 bytes.
 *
 * @param json - the event JSON as the store serialized it, or its bytes
 * @returns the 32-byte digest
 * @example
 * ```ts
 * eventDigest('{"event_type":"a"}').toString('hex')
 * ```
 */
export function eventDigest (json: string | Uint8Array): Buffer {
  return sha256(json)
}

/**
 * One link of the chain: h_seq from h_{seq-1} and the event's digest.
 *
 * @param producerId - the producer's UUID
 * @param lane - the lane, 0..2^32-1
 * @param seq - the event's seq in the lane, 1..2^53-1
 * @param prev - h_{seq-1}, 32 bytes ({@link GENESIS} for seq 1)
 * @param digest - {@link eventDigest} of the event, 32 bytes
 * @returns h_seq, 32 bytes
 * @throws {@link InvalidOptionError} when an argument is out of range
 * @example
 * ```ts
 * const h1 = chainHash('0b7d4a52-3f0e-4c55-9a51-6f1f2d3c4b5a', 0, 1, GENESIS, eventDigest(json))
 * ```
 */
export function chainHash (producerId: string, lane: number, seq: number, prev: Uint8Array, digest: Uint8Array): Buffer {
  const preimage = preimageFor(producerId, lane)
  checkSeq('seq', seq)
  checkBytes32('prev', prev)
  checkBytes32('digest', digest)
  writeSeq(preimage, seq)
  preimage.set(prev, OFF_PREV)
  preimage.set(digest, OFF_DIGEST)
  return sha256(preimage)
}

/**
 * The hashes of `events[k]` at seq `firstSeq + k`, chained from `prev`, in one
 * buffer of `events.length * 32` bytes; hash k is `subarray(k * 32, k * 32 + 32)`.
 *
 * @param producerId - the producer's UUID
 * @param lane - the lane
 * @param firstSeq - the seq of `events[0]`
 * @param prev - h_{firstSeq-1}
 * @param events - the events' exact JSON strings
 * @returns the concatenated hashes
 * @throws {@link InvalidOptionError} when an argument is out of range
 * @example
 * ```ts
 * const hashes = chainEvents(producerId, lane, 1, GENESIS, batch.events)
 * const head = hashes.subarray(hashes.length - 32)
 * ```
 */
export function chainEvents (producerId: string, lane: number, firstSeq: number, prev: Uint8Array, events: readonly string[]): Buffer {
  const preimage = preimageFor(producerId, lane)
  checkSeq('firstSeq', firstSeq)
  checkBytes32('prev', prev)
  // Subtract rather than add: firstSeq + length - 1 could round back into range.
  if (firstSeq > Number.MAX_SAFE_INTEGER - Math.max(0, events.length - 1)) {
    throw new InvalidOptionError('firstSeq', `at most ${Number.MAX_SAFE_INTEGER} - ${events.length - 1} for ${events.length} events`, firstSeq)
  }
  const out = Buffer.allocUnsafe(events.length * 32)
  // One preimage for the whole run: only seq, prev and digest change per event.
  preimage.set(prev, OFF_PREV)
  for (let k = 0; k < events.length; k++) {
    writeSeq(preimage, firstSeq + k)
    preimage.write(sha256Latin1(events[k]!), OFF_DIGEST, 'latin1')
    const h = sha256Latin1(preimage)
    out.write(h, k * 32, 'latin1')
    preimage.write(h, OFF_PREV, 'latin1')
  }
  return out
}

/**
 * The 16 bytes of a canonical UUID string.
 * @internal
 */
export function uuidBytes (producerId: string): Buffer {
  if (typeof producerId !== 'string' || !UUID.test(producerId)) throw new InvalidOptionError('producerId', 'a UUID', producerId)
  return Buffer.from(producerId.replaceAll('-', ''), 'hex')
}

function preimageFor (producerId: string, lane: number): Buffer {
  const bytes = uuidBytes(producerId)
  if (!Number.isInteger(lane) || lane < 0 || lane >= TWO_32) throw new InvalidOptionError('lane', 'an integer in 0..2^32-1', lane)
  const preimage = Buffer.alloc(PREIMAGE_BYTES)
  DOMAIN.copy(preimage, 0)
  bytes.copy(preimage, OFF_PRODUCER)
  preimage.writeUInt32BE(lane, OFF_LANE)
  return preimage
}

function writeSeq (preimage: Buffer, seq: number): void {
  // Two u32 halves: exact for every safe integer, without a BigInt per event.
  preimage.writeUInt32BE(Math.floor(seq / TWO_32), OFF_SEQ)
  preimage.writeUInt32BE(seq % TWO_32, OFF_SEQ + 4)
}

function checkSeq (name: string, seq: number): void {
  if (!Number.isSafeInteger(seq) || seq < 1) throw new InvalidOptionError(name, 'a safe integer >= 1', seq)
}

function checkBytes32 (name: string, bytes: Uint8Array): void {
  if (!(bytes instanceof Uint8Array) || bytes.length !== 32) throw new InvalidOptionError(name, '32 bytes', bytes)
}
