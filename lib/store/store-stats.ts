/**
 * A store's stats, put together from their owners: the ledger (accepted,
 * settled, pending), the store's entry (dropped, invalid: events never
 * accepted, or refused by validation), the sink (retries, batches, in
 * flight) and the spool. Each count is read from its one owner, never kept
 * twice; the result is a fresh plain object.
 */
import type { Ledger } from '../accounting/ledger.js'
import type { StoreStats } from '../accounting/stats.js'
import type { BatchSink } from '../delivery/batch-sink.js'
import type { Spool } from '../spool/spool.js'

/**
 * A fresh snapshot of a store's counters.
 * @param ledger - the store's ledger
 * @param entry - the entry's own counts: `dropped` and `invalid`
 * @param sink - the store's sink
 * @param spool - the store's spool, if any
 * @internal
 */
export function storeStats (ledger: Ledger, entry: { readonly dropped: number, readonly invalid: number }, sink: BatchSink, spool: Spool | undefined): StoreStats {
  const counters = sink.counters()
  const settled = ledger.settled()
  return {
    accepted: ledger.accepted,
    dropped: entry.dropped,
    invalid: entry.invalid,
    written: settled.written,
    deadLettered: settled.deadLettered,
    lost: settled.lost,
    retries: counters.retries,
    batches: counters.batches,
    pending: ledger.pending,
    inFlight: sink.inFlight,
    recovered: spool?.recovered.count ?? 0,
    spooled: { events: spool?.events ?? 0, bytes: spool?.bytes ?? 0 },
    spoolCorrupt: { ...(spool?.corruption ?? { bytes: 0, events: 0 }) }
  }
}
