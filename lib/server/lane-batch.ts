/**
 * A batch that belongs to a lane (issue 15): the five `audit-stream-*`
 * request headers, checked, and the chain recomputed over the exact bytes of
 * the body's elements. Everything here runs before the database is touched;
 * the lane's state is checked under its row lock by {@link admitBatch}.
 */
import { isUtf8 } from 'node:buffer'
import type { IncomingHttpHeaders } from 'node:http'
import { chainHash, eventDigest } from '../chain/chain-hash.js'
import { ArrayShapeError, arrayElements } from './array-elements.js'
import { HttpProblem } from './problem.js'
import { HEAD_HEADER, INT32_MAX, LANE_HEADER, LANE_HEADERS, PREV_HASH_HEADER, PRODUCER_HEADER, SEQ_HEADER, UUID } from '../protocol/wire.js'




const HEX64 = /^[0-9a-f]{64}$/
const DIGITS = /^(0|[1-9]\d{0,15})$/

/** A lane batch as the server stores it. @internal */
export interface LaneBatch {
  /** Lowercase UUID. */
  readonly producerId: string
  readonly lane: number
  /** Seq of the first event; the events have seq .. seq + raws.length - 1. */
  readonly seq: number
  /** h_{seq-1}, lowercase hex. */
  readonly prev: string
  /** The exact JSON text of each element, as received. */
  readonly raws: readonly string[]
  /** h of each event, 32 bytes each, recomputed from `prev` over the raws' bytes. */
  readonly hashes: Buffer
}

/** h of the event at index `i` of `batch`, lowercase hex. @internal */
export function hashAt (batch: LaneBatch, i: number): string {
  return batch.hashes.toString('hex', i * 32, i * 32 + 32)
}

function badHeader (name: string, expected: string): HttpProblem {
  return new HttpProblem(400, 'Bad Request', `invalid header ${name}: expected ${expected}`, { field_errors: { [name]: expected } })
}

/**
 * The lane batch of a request, or undefined when it carries none of the
 * five headers (the batch is then stored as before, without lane columns).
 * @internal
 * @param headers - the request's headers
 * @param body - the request body's decoded bytes, already parsed as the array `count` long
 * @param count - how many events the parsed body holds
 * @throws {@link HttpProblem} 400 naming the header that is missing or malformed, or `audit-stream-head` when the recomputed chain does not end there
 */
export function laneBatch (headers: IncomingHttpHeaders, body: Buffer, count: number): LaneBatch | undefined {
  const values = LANE_HEADERS.map((name) => headers[name])
  if (values.every((v) => v === undefined)) return undefined
  for (const [i, name] of LANE_HEADERS.entries()) {
    if (values[i] === undefined) throw new HttpProblem(400, 'Bad Request', `header ${name} is required with the other audit-stream-* headers`, { field_errors: { [name]: 'required' } })
  }
  // A repeated header arrives joined with ', ' (or as an array): neither matches the patterns below.
  const [producer, lane, seq, prev, head] = values.map((v) => (typeof v === 'string' ? v.trim() : '')) as [string, string, string, string, string]
  if (!UUID.test(producer)) throw badHeader(PRODUCER_HEADER, 'a UUID')
  if (!DIGITS.test(lane) || Number(lane) > INT32_MAX) throw badHeader(LANE_HEADER, `an integer 0 to ${INT32_MAX}`)
  const first = Number(seq)
  // Subtracted, not added: past 2^53 an addition rounds and the test would pass.
  if (!DIGITS.test(seq) || first < 1 || first > Number.MAX_SAFE_INTEGER - (count - 1)) {
    throw badHeader(SEQ_HEADER, 'an integer >= 1 whose batch ends at or below 2^53 - 1')
  }
  if (!HEX64.test(prev)) throw badHeader(PREV_HASH_HEADER, '64 lowercase hex digits')
  if (!HEX64.test(head)) throw badHeader(HEAD_HEADER, '64 lowercase hex digits')
  // The bytes must round-trip through a string exactly: the raw column is text.
  if (!isUtf8(body)) throw new HttpProblem(400, 'Bad Request', 'the body of a lane batch must be valid UTF-8')
  let offsets: number[]
  try {
    offsets = arrayElements(body)
  } catch (err) {
    if (err instanceof ArrayShapeError) throw new HttpProblem(400, 'Bad Request', `the body could not be split into events: ${err.message}`)
    throw err
  }
  if (offsets.length !== count * 2) throw new HttpProblem(400, 'Bad Request', 'the body could not be split into its events')
  const producerId = producer.toLowerCase()
  const laneNumber = Number(lane)
  const raws: string[] = new Array<string>(count)
  const hashes = Buffer.allocUnsafe(count * 32)
  let h: Uint8Array = Buffer.from(prev, 'hex')
  for (let i = 0; i < count; i++) {
    const bytes = body.subarray(offsets[2 * i]!, offsets[2 * i + 1]!)
    raws[i] = bytes.toString('utf8')
    h = chainHash(producerId, laneNumber, first + i, h, eventDigest(bytes))
    hashes.set(h, i * 32)
  }
  const batch: LaneBatch = { producerId, lane: laneNumber, seq: first, prev, raws, hashes }
  if (hashAt(batch, count - 1) !== head) {
    throw new HttpProblem(400, 'Bad Request', 'audit-stream-head does not match the chain recomputed from audit-stream-prev-hash over the events', {
      field_errors: { 'audit-stream-head': 'does not match the recomputed chain' }
    })
  }
  return batch
}
