/**
 * Recovery: what a spool directory holds when a store opens it. Reads every
 * segment once, checks every frame's CRC, cuts a torn or corrupt segment at
 * its first bad frame (truncating the file there, so the damage is counted
 * once), and indexes what is not settled: the events at or above the
 * checkpoint and the batches cut from them. Event bytes are read again, a
 * segment at a time, when they are replayed (see {@link replaySpool}).
 */
import { closeSync, constants, fsyncSync, openSync, readdirSync, readFileSync, ftruncateSync, unlinkSync } from 'node:fs'
import { join } from 'node:path'
import { readCheckpoint } from './checkpoint.js'
import { decodeRunEvents, readFrame, type BatchRecord, type SpooledTrail } from './record-format.js'
import { appendSeqs, coversSeqs } from '../batching/seq-ranges.js'

const SEGMENT_NAME = /^segment-(\d{10,})\.log$/

/** The number in a segment file's name. @internal */
export function segmentIndex (name: string): number {
  return Number(SEGMENT_NAME.exec(name)?.[1] ?? NaN)
}

/**
 * The file name of segment `index`.
 * @internal
 */
export function segmentName (index: number): string {
  return `segment-${String(index).padStart(10, '0')}.log`
}

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
  /** The checkpoint: every spool sequence number below it is settled. */
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
  /** Whether the checkpoint file was damaged (then everything spooled is replayed). */
  readonly checkpointDamaged: boolean
  /** By producer, each lane's highest cut record in the segments: its last seq and head. */
  readonly laneHeads: Map<string, Map<number, { readonly seq: number, readonly head: string }>>
}

/**
 * Indexes `dir`, cutting damaged segments and deleting segments the
 * checkpoint covers. Synchronous: it runs once, when the store is created.
 * @internal
 */
export function recoverSpool (dir: string): RecoveredSpool {
  const checkpoint = readCheckpoint(dir)
  const floor = checkpoint ?? 0
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
    const index = Number(SEGMENT_NAME.exec(name)![1])
    nextSegment = Math.max(nextSegment, index + 1)
    const path = join(dir, name)
    const buffer = readSegment(path)
    let offset = 0
    let events = 0
    let maxRef = -1
    while (offset < buffer.length) {
      const frame = readFrame(buffer, offset)
      if (!frame.ok) {
        corruptBytes += buffer.length - offset
        corruptEvents += frame.events
        truncate(path, offset)
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
      // Everything it names is settled: a crash came between the checkpoint and this unlink.
      unlinkSync(path)
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
    checkpointDamaged: checkpoint === undefined,
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
// that share no seq with another cut batch; the others' events are replayed as
// uncut. With lanes, batches of different lanes interleave: their ranges alternate.
function resendable (batches: BatchRecord[], seqs: readonly number[], floor: number): BatchRecord[] {
  const candidates = batches.filter((b) => {
    if (b.seqs.length < 2 || b.seqs[0]! < floor) return false
    for (let i = 0; i + 1 < b.seqs.length; i += 2) if (!coversSeqs(seqs, b.seqs[i]!, b.seqs[i + 1]!)) return false
    return true
  })
  // Every range of every candidate, by first seq: two that overlap rule out both batches.
  const ranges: Array<{ first: number, last: number, batch: number }> = []
  for (const [batch, b] of candidates.entries()) for (let i = 0; i + 1 < b.seqs.length; i += 2) ranges.push({ first: b.seqs[i]!, last: b.seqs[i + 1]!, batch })
  ranges.sort((x, y) => x.first - y.first)
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

/** One item to put back into the pipeline. @internal */
export type ReplayItem =
  | { readonly kind: 'batch', readonly id: string, readonly events: string[], readonly sizes: number[], readonly ledgerSeqs: number[], readonly trail: SpooledTrail | undefined }
  | { readonly kind: 'run', readonly firstLedgerSeq: number, readonly events: string[], readonly sizes: number[] }

export type { SpooledTrail }

// Each recovered event in spool order, with its ledger seq (0, 1, ... in spool order).
function * recoveredEvents (recovered: RecoveredSpool): Generator<{ seq: number, ledgerSeq: number, events: string[], sizes: number[], i: number }> {
  const { floor } = recovered
  let ledgerSeq = 0
  for (const segment of recovered.segments) {
    const buffer = readFileSync(segment.path)
    let offset = 0
    while (offset < segment.bytes) {
      const frame = readFrame(buffer, offset)
      // Checked at recovery; a segment damaged since then ends here.
      if (!frame.ok) break
      offset = frame.end
      if (frame.record.kind !== 'run') continue
      const { firstSeq, count } = frame.record
      if (firstSeq + count - 1 < floor) continue
      const { events, sizes } = decodeRunEvents(frame.payload, count)
      for (let i = 0; i < count; i++) {
        const seq = firstSeq + i
        if (seq >= floor) yield { seq, ledgerSeq: ledgerSeq++, events, sizes, i }
      }
    }
  }
}

/**
 * Reads the unsettled events back as cut batches (same id, same events in
 * the same order, so the same body; with lanes, the same place in the lane)
 * and runs of uncut events. The batches come first, in one pass over the
 * segments, then the runs in a second, so that a lane's batches cut by the
 * earlier store reach the sink before anything cut anew. Events are
 * numbered for the new store's ledger from 0, in spool order.
 * @internal
 */
export function * replaySpool (recovered: RecoveredSpool): Generator<ReplayItem> {
  const { batches } = recovered
  const ranges: Array<{ first: number, last: number, batch: number }> = []
  for (const [batch, b] of batches.entries()) for (let i = 0; i + 1 < b.seqs.length; i += 2) ranges.push({ first: b.seqs[i]!, last: b.seqs[i + 1]!, batch })
  ranges.sort((x, y) => x.first - y.first)
  // Which cut batch holds `seq`, walking seqs in ascending order; -1 for none.
  const batchAt = (): ((seq: number) => number) => {
    let r = 0
    return (seq) => {
      while (r < ranges.length && ranges[r]!.last < seq) r++
      const range = ranges[r]
      return range !== undefined && range.first <= seq ? range.batch : -1
    }
  }
  if (batches.length > 0) {
    const open = new Map<number, { events: string[], sizes: number[], ledgerSeqs: number[], left: number }>()
    const find = batchAt()
    for (const e of recoveredEvents(recovered)) {
      const b = find(e.seq)
      if (b < 0) continue
      let o = open.get(b)
      if (o === undefined) {
        let left = 0
        const seqs = batches[b]!.seqs
        for (let k = 0; k + 1 < seqs.length; k += 2) left += seqs[k + 1]! - seqs[k]! + 1
        open.set(b, o = { events: [], sizes: [], ledgerSeqs: [], left })
      }
      o.events.push(e.events[e.i]!)
      o.sizes.push(e.sizes[e.i]!)
      o.ledgerSeqs.push(e.ledgerSeq)
      if (--o.left === 0) {
        open.delete(b)
        const { id, trail } = batches[b]!
        yield { kind: 'batch', id, events: o.events, sizes: o.sizes, ledgerSeqs: o.ledgerSeqs, trail }
      }
    }
  }
  const find = batchAt()
  let run: { firstLedgerSeq: number, events: string[], sizes: number[] } | undefined
  for (const e of recoveredEvents(recovered)) {
    if (find(e.seq) >= 0) {
      if (run !== undefined) { yield { kind: 'run', ...run }; run = undefined }
      continue
    }
    run ??= { firstLedgerSeq: e.ledgerSeq, events: [], sizes: [] }
    run.events.push(e.events[e.i]!)
    run.sizes.push(e.sizes[e.i]!)
    if (run.events.length >= 1000) { yield { kind: 'run', ...run }; run = undefined }
  }
  if (run !== undefined) yield { kind: 'run', ...run }
}
