/**
 * The reader: reads the events recovery indexed (lib/spool/recovery.ts) back
 * out of their segments, for the store to put into its pipeline again.
 *
 * Design: recovery keeps no event bytes in memory; the reader reads a
 * segment only when it gets to it, so a large spool is read back with one
 * segment's bytes at a time. It is a generator: the store pulls as fast as
 * its pipeline takes, and a segment gone or damaged since recovery ends the
 * reading there.
 */
import { readFileSync } from 'node:fs'
import { decodeRunEvents, readFrame, type SpooledTrail } from './record-format.js'
import { batchRanges, type RecoveredSpool } from './recovery.js'

/** One item to put back into the pipeline. @internal */
export type RecoveredItem =
  | { readonly kind: 'batch', readonly id: string, readonly events: string[], readonly sizes: number[], readonly ledgerSeqs: number[], readonly trail: SpooledTrail | undefined }
  | { readonly kind: 'run', readonly firstLedgerSeq: number, readonly events: string[], readonly sizes: number[] }

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
export function * readRecovered (recovered: RecoveredSpool): Generator<RecoveredItem> {
  const { batches } = recovered
  const ranges = batchRanges(batches)
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
