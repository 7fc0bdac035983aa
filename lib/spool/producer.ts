/**
 * The producer files: what a spool keeps of its producer, so that the next
 * store on the directory goes on with the same producer id and lanes.
 *
 * - `producer`: the producer id, written once, when the directory is first used;
 * - `lanes`: each lane's last seq and head hash, as of the cut records already
 *   written to a segment. Rewritten (temp file, fsync, rename: C0) by the floor
 *   job before it unlinks segments, so a lane's head is never lost with the
 *   segment that held its last cut. Recovery takes, lane by lane, the higher of
 *   this file and the cut records still in the segments.
 *
 * A clean close removes both, with everything else: nothing is left to resend
 * under the producer, and the next store starts a producer of its own. The
 * state they are written from is lib/spool/producer-state.ts.
 */
import { randomUUID } from 'node:crypto'
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs'
import { join } from 'node:path'
import { crc32 } from 'node:zlib'
import { InvalidOptionError } from '../errors.js'
import { HEX64 } from '../chain/chain-hash.js'
import type { LaneHead } from '../lanes/lane-chains.js'
import { LOWERCASE_UUID } from '../protocol/wire.js'

/** The producer file's name. @internal */
export const PRODUCER_FILE = 'producer'
/** The lanes file's name, and its temp file. @internal */
export const LANES_FILE = 'lanes'
export const LANES_TEMP_FILE = 'lanes.tmp'

/** Lane heads by lane, of one producer. @internal */
export type LaneHeads = Map<number, { readonly seq: number, readonly head: string }>

/**
 * The directory's producer id: the one it holds, or `wanted` (else a new
 * UUID) written now, durably.
 * @internal
 * @throws {@link InvalidOptionError} when `wanted` is not the id the directory holds
 */
export function producerIdOf (dir: string, wanted: string | undefined): string {
  let held: string | undefined
  try {
    held = readFileSync(join(dir, PRODUCER_FILE), 'utf8').trim()
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  if (held !== undefined && LOWERCASE_UUID.test(held)) {
    if (wanted !== undefined && wanted !== held) {
      throw new InvalidOptionError('producerId', `the producer id the spool directory holds (${held})`, wanted)
    }
    return held
  }
  const id = wanted ?? randomUUID()
  writeDurably(dir, PRODUCER_FILE, `${PRODUCER_FILE}.tmp`, Buffer.from(id + '\n'))
  return id
}

/**
 * The lanes file's bytes: JSON `{ producerId, lanes: { "<lane>": [seq, head] } }`, then a line with its CRC-32.
 * @internal
 */
export function encodeLanes (producerId: string, heads: LaneHeads): Buffer {
  const lanes: Record<string, [number, string]> = {}
  for (const [lane, { seq, head }] of heads) lanes[lane] = [seq, head]
  const json = JSON.stringify({ producerId, lanes })
  return Buffer.from(`${json}\n${crc32(json)}\n`)
}

/**
 * Reads the lanes file of `dir`: the heads of `producerId`'s lanes; empty
 * when there is none, it is damaged, or it is another producer's.
 * @internal
 */
export function readLanes (dir: string, producerId: string): LaneHeads {
  const heads: LaneHeads = new Map()
  let text: string
  try {
    text = readFileSync(join(dir, LANES_FILE), 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return heads
    throw err
  }
  const [json, crc] = text.split('\n')
  if (json === undefined || String(crc32(json)) !== crc) return heads
  try {
    const parsed = JSON.parse(json) as { producerId?: unknown, lanes?: Record<string, unknown> }
    if (parsed.producerId !== producerId || typeof parsed.lanes !== 'object' || parsed.lanes === null) return heads
    for (const [lane, value] of Object.entries(parsed.lanes)) {
      if (!Array.isArray(value) || !Number.isSafeInteger(value[0]) || typeof value[1] !== 'string' || !HEX64.test(value[1])) continue
      heads.set(Number(lane), { seq: value[0] as number, head: value[1] })
    }
  } catch {
    // a damaged file counts as none: the cut records in the segments still give the heads they hold
  }
  return heads
}

/** Lane by lane, the higher of two sets of heads. @internal */
export function mergeHeads (into: LaneHeads, from: Iterable<[number, { readonly seq: number, readonly head: string }]>): LaneHeads {
  for (const [lane, head] of from) {
    const have = into.get(lane)
    if (have === undefined || head.seq > have.seq) into.set(lane, head)
  }
  return into
}

/** Heads as the lane chains take them: lanes below `lanes` only. @internal */
export function toLaneHeads (heads: LaneHeads, lanes: number): Map<number, LaneHead> {
  const out = new Map<number, LaneHead>()
  for (const [lane, { seq, head }] of heads) if (Number.isInteger(lane) && lane >= 0 && lane < lanes) out.set(lane, { seq, head: Buffer.from(head, 'hex') })
  return out
}

function writeDurably (dir: string, name: string, temp: string, data: Buffer): void {
  const fd = openSync(join(dir, temp), 'w')
  try {
    writeSync(fd, data)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
  renameSync(join(dir, temp), join(dir, name))
  const dfd = openSync(dir, 'r')
  try {
    fsyncSync(dfd)
  } finally {
    closeSync(dfd)
  }
}
