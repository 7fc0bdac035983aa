/**
 * Spool recovery at the entry: the events a spool held when the store opened
 * it go back into the pipeline, ahead of anything new. The ledger numbered
 * them 0 .. n - 1 in spool order. A batch cut before the crash comes back as
 * a {@link RecoveredBatch} (the same id and events, so the same body and the
 * same place in its lane); the uncut events come back as event runs, their
 * lane keys read back from their bytes. They are handed to the batcher a
 * segment at a time, with backpressure.
 *
 * Invariant: every recovered number is either handed to the batcher or, when
 * reading the spool fails, counted lost here; never both, never neither.
 */
import type { Logger } from 'pino'
import type { Ledger } from '../accounting/ledger.js'
import { RecoveredBatch, type BatchTransform } from '../batching/batch-transform.js'
import { bodyBytesWith, createBatch, EMPTY_BODY_BYTES, type Batch } from '../batching/batch.js'
import { EventRun } from '../batching/event-run.js'
import { appendSeqs } from '../batching/seq-ranges.js'
import { chainEvents } from '../chain/chain-hash.js'
import { readRecovered } from '../spool/reader.js'
import type { SpooledTrail } from '../spool/record-format.js'
import type { RecoveredSpool } from '../spool/recovery.js'

/**
 * Where recovered events go, and what the store learns as they do.
 * @internal
 */
export interface RecoveryTarget {
  /** The store's batcher: recovered chunks are written into it, with backpressure. */
  readonly batcher: BatchTransform
  /** The store's ledger: what cannot be read back is settled lost there. */
  readonly ledger: Ledger
  /** The store's logger. */
  readonly log: Logger
  /** Whether the store was destroyed: recovery then stops. */
  readonly stopped: () => boolean
  /** Called with the count of recovered events about to be written to the batcher. */
  readonly handing: (count: number) => void
}

/**
 * Hands every recovered event to the batcher, in order. Never rejects: a
 * failure to read the spool back is logged, and every recovered event not
 * handed over is counted lost.
 *
 * @param recovered - what the spool recovered when it was opened
 * @param target - see {@link RecoveryTarget}
 * @internal
 */
export async function recoverSpooledEvents (recovered: RecoveredSpool, target: RecoveryTarget): Promise<void> {
  const { batcher, ledger } = target
  // Ledger seqs handed to the batcher, as ranges: on a failure, the others are counted lost.
  const handed: Array<[number, number]> = []
  try {
    for (const item of readRecovered(recovered)) {
      if (target.stopped()) return
      let chunk: EventRun | RecoveredBatch
      if (item.kind === 'run') {
        chunk = new EventRun()
        for (let i = 0; i < item.events.length; i++) chunk.push(item.events[i]!, item.sizes[i]!, correlationIdOfJson(item.events[i]!))
        chunk.firstSeq = item.firstLedgerSeq
        handed.push([item.firstLedgerSeq, item.firstLedgerSeq + item.events.length - 1])
      } else {
        const batch = recoveredBatch(item.id, item.events, item.sizes, item.ledgerSeqs, item.trail)
        chunk = new RecoveredBatch(batch)
        for (let i = 0; i + 1 < batch.seqs.length; i += 2) handed.push([batch.seqs[i]!, batch.seqs[i + 1]!])
      }
      target.handing(item.events.length)
      if (!batcher.write(chunk)) await new Promise<void>((resolve) => {
        const done = (): void => { batcher.off('drain', done); batcher.off('close', done); resolve() }
        batcher.on('drain', done)
        batcher.on('close', done)
      })
    }
  } catch (err) {
    // What could not be read back is lost, and counted so: every recovered number not handed over.
    let lost = 0
    let next = 0
    for (const [first, last] of handed.sort((a, b) => a[0] - b[0])) {
      if (first > next) lost += ledger.settle([next, first - 1], 'lost')
      next = Math.max(next, last + 1)
    }
    if (next < recovered.count) lost += ledger.settle([next, recovered.count - 1], 'lost')
    // A fixed log message, kept as published: recovery, in the store's words.
    target.log.error({ err, count: lost }, 'spool replay failed')
  }
}

// A batch read back from the spool: the same id and events, so the same body.
function recoveredBatch (id: string, events: string[], sizes: number[], ledgerSeqs: number[], trail: SpooledTrail | undefined): Batch {
  const seqs: number[] = []
  let bytes = EMPTY_BODY_BYTES
  for (let i = 0; i < events.length; i++) {
    bytes = bodyBytesWith(bytes, i, sizes[i]!)
    appendSeqs(seqs, ledgerSeqs[i]!)
  }
  if (trail === undefined) return createBatch(id, events, sizes, bytes, seqs)
  // The hashes are recomputed from the same bytes: the same chain, the same headers.
  const prev = Buffer.from(trail.prev, 'hex')
  return createBatch(id, events, sizes, bytes, seqs, { producerId: trail.producerId, lane: trail.lane, seq: trail.seq, prev, hashes: chainEvents(trail.producerId, trail.lane, trail.seq, prev, events) })
}

// The lane key of a recovered event: its correlation_id, read back from its bytes.
function correlationIdOfJson (json: string): string {
  try {
    const id = (JSON.parse(json) as { correlation_id?: unknown }).correlation_id
    return typeof id === 'string' ? id : ''
  } catch {
    return ''
  }
}
