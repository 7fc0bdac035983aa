/**
 * Recovery (O2-O4 in lib/spool/spool.ts): what a spool directory holds when a
 * store opens it. Reads every segment once, checks every frame's CRC, cuts a
 * torn or corrupt segment at its first bad frame (truncating the file there,
 * so the damage is counted once), and indexes what is not settled: the events
 * at or above the floor and the batches cut from them. Event bytes are read
 * again, a segment at a time, by lib/spool/reader.ts.
 */
import { closeSync, constants, fsyncSync, openSync, readdirSync, readFileSync, ftruncateSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { readFloor } from './floor.js'
import { readFrame, type BatchRecord } from './record-format.js'
import { SEGMENT_NAME, segmentIndex } from './segment-name.js'
import { appendSeqs, coversSeqs } from '../batching/seq-ranges.js'

/** What recovery learned of one segment. @internal */
export interface SegmentInfo {
  readonly index: number
  readonly path: string
  /** Bytes of valid frames. */
  readonly bytes: number
  /** Events in its run records. */
  readonly events: number
  /** The highest spool sequence number any of its records names; -1 when none. */
  readonly maxRef: number
}

/** Damage found and cut. @internal */
export interface SpoolCorruption {
  /** Bytes discarded from the first bad frame of a segment to its end. */
  readonly bytes: number
  /** Events the discarded frames' headers claimed, where they could be read. */
  readonly events: number
}

/** The index recovery builds. @internal */
export interface RecoveredSpool {
  /** The floor: every spool sequence number below it is settled. */
  readonly floor: number
  /** Live segments, oldest first; those entirely below the floor are already deleted. */
  readonly segments: SegmentInfo[]
  /** The unsettled events' spool sequence numbers, ascending, as inclusive ranges flattened. */
  readonly seqs: number[]
  /** How many unsettled events there are. */
  readonly count: number
  /** Batches cut whose events are all unsettled and all present: resent as they were cut. */
  readonly batches: BatchRecord[]
  /** The next spool sequence number to hand out. */
  readonly nextSeq: number
  /** The next segment index. */
  readonly nextSegment: number
  readonly corruption: SpoolCorruption
  /** Whether the floor file was damaged (then every spooled event is recovered). */
  readonly floorDamaged: boolean
  /** By producer, each lane's highest cut record in the segments: its last seq and head. */
  readonly laneHeads: Map<string, Map<number, { readonly seq: number, readonly head: string }>>
}

/**
 * Indexes `dir`, cutting damaged segments (O3) and deleting segments the
 * floor covers (O4). Synchronous: it runs once, when the store is created.
 * @internal
 */
export function recoverSpool (dir: string): RecoveredSpool {
  const onDisk = readFloor(dir) // O2
  const floor = onDisk ?? 0
  // By number, not by name: past segment-9999999999 the names grow an 11th digit.
  const names = readdirSync(dir).filter((n) => SEGMENT_NAME.test(n)).sort((a, b) => segmentIndex(a) - segmentIndex(b))
  const segments: SegmentInfo[] = []
  const seqs: number[] = []
  const batches: BatchRecord[] = []
  const laneHeads: RecoveredSpool['laneHeads'] = new Map()
  let nextSeq = floor
  let nextSegment = 0
  let corruptBytes = 0
  let corruptEvents = 0
  for (const name of names) {
    const index = segmentIndex(name)
    nextSegment = Math.max(nextSegment, index + 1)
    const path = join(dir, name)
    const buffer = readSegment(path) // O3
    let offset = 0
    let events = 0
    let maxRef = -1
    while (offset < buffer.length) {
      const frame = readFrame(buffer, offset)
      if (!frame.ok) {
        corruptBytes += buffer.length - offset
        corruptEvents += frame.events
        truncate(path, offset) // O3
        break
      }
      const record = frame.record
      if (record.kind === 'run') {
        events += record.count
        const last = record.firstSeq + record.count - 1
        maxRef = Math.max(maxRef, last)
        nextSeq = Math.max(nextSeq, last + 1)
        if (last >= floor) appendSeqs(seqs, Math.max(record.firstSeq, floor), last)
      } else {
        maxRef = Math.max(maxRef, record.seqs.at(-1) ?? -1)
        batches.push(record)
        const trail = record.trail
        if (trail !== undefined) {
          let heads = laneHeads.get(trail.producerId)
          if (heads === undefined) laneHeads.set(trail.producerId, heads = new Map())
          if ((heads.get(trail.lane)?.seq ?? 0) < trail.last) heads.set(trail.lane, { seq: trail.last, head: trail.head })
        }
      }
      offset = frame.end
    }
    if (maxRef < floor) {
      // Everything it names is settled: a crash came between a floor write and this unlink.
      unlinkSync(path) // O4
      continue
    }
    segments.push({ index, path, bytes: offset, events, maxRef })
  }
  let count = 0
  for (let i = 0; i < seqs.length; i += 2) count += seqs[i + 1]! - seqs[i]! + 1
  return {
    floor,
    segments,
    seqs,
    count,
    batches: resendable(batches, seqs, floor),
    nextSeq,
    nextSegment,
    corruption: { bytes: corruptBytes, events: corruptEvents },
    floorDamaged: onDisk === undefined,
    laneHeads
  }
}

// A segment is read (and cut) only as a regular file of the directory: a symlink in its place is
// refused (ELOOP) rather than followed, so a spool never reads or truncates a file elsewhere.
function readSegment (path: string): Buffer {
  const fd = openSync(path, constants.O_RDONLY | constants.O_NOFOLLOW)
  try {
    return readFileSync(fd)
  } finally {
    closeSync(fd)
  }
}

function truncate (path: string, length: number): void {
  const fd = openSync(path, constants.O_RDWR | constants.O_NOFOLLOW)
  try {
    ftruncateSync(fd, length)
    fsyncSync(fd)
  } finally {
    closeSync(fd)
  }
}

// Cut batches whose events are all at or above the floor and all present, and
// that share no seq with another cut batch; the others' events are read back as
// uncut. With lanes, batches of different lanes interleave: their ranges alternate.
function resendable (batches: BatchRecord[], seqs: readonly number[], floor: number): BatchRecord[] {
  const candidates = batches.filter((b) => {
    if (b.seqs.length < 2 || b.seqs[0]! < floor) return false
    for (let i = 0; i + 1 < b.seqs.length; i += 2) if (!coversSeqs(seqs, b.seqs[i]!, b.seqs[i + 1]!)) return false
    return true
  })
  // Two ranges that overlap rule out both batches.
  const ranges = batchRanges(candidates)
  const bad = new Set<number>()
  let reach = -1
  let owner = -1
  for (const r of ranges) {
    if (r.first <= reach) {
      bad.add(r.batch)
      bad.add(owner)
    }
    if (r.last > reach) {
      reach = r.last
      owner = r.batch
    }
  }
  return candidates.filter((_, i) => !bad.has(i)).sort((a, b) => a.seqs[0]! - b.seqs[0]!)
}

/**
 * Every seq range of every batch, by first seq; `batch` is the batch's index in `batches`.
 * @internal
 */
export function batchRanges (batches: readonly BatchRecord[]): Array<{ first: number, last: number, batch: number }> {
  const ranges: Array<{ first: number, last: number, batch: number }> = []
  for (const [batch, b] of batches.entries()) for (let i = 0; i + 1 < b.seqs.length; i += 2) ranges.push({ first: b.seqs[i]!, last: b.seqs[i + 1]!, batch })
  return ranges.sort((x, y) => x.first - y.first)
}
