/**
 * What a store does when the process is about to exit. At `beforeExit` (the
 * event loop ran dry with events undelivered) it flushes them, once for each
 * new lot, bounded by the close timeout: the flush keeps the process up while
 * it waits, and `beforeExit` then comes again and finds nothing new. At
 * `exit` nothing can be delivered any more: it says how much was not.
 */
import type { Logger } from 'pino'
import type { Ledger } from '../accounting/ledger.js'
import type { FlushResult } from '../accounting/stats.js'
import type { FlushOptions } from '../options/store.js'

/** The store, as the exit hooks see it. @internal */
export interface ExitingStore {
  readonly writableEnded: boolean
  readonly destroyed: boolean
  flush (options: FlushOptions): Promise<FlushResult>
}

/**
 * A store's two exit hooks, with what they need. The store's process exit
 * hooks call them; they never hold the store themselves.
 * @internal
 */
export class AtExit {
  readonly #ledger: Ledger
  readonly #log: Logger
  readonly #timeoutMs: number
  // The store's sink: what its lanes settled is checkpointed through it when no close comes.
  readonly #sink: { checkpointLanes (): void }
  // Invariant: the accepted count when the store last flushed by itself at beforeExit.
  #flushedTo = 0

  /**
   * @param ledger - the store's ledger
   * @param log - the store's logger
   * @param timeoutMs - the bound of a flush at exit: the store's closeTimeoutMs
   * @param sink - the store's sink, whose lanes are checkpointed once a flush at exit is over
   */
  constructor (ledger: Ledger, log: Logger, timeoutMs: number, sink: { checkpointLanes (): void }) {
    this.#ledger = ledger
    this.#log = log
    this.#timeoutMs = timeoutMs
    this.#sink = sink
  }

  /** At `beforeExit`: flushes `store` when it holds events accepted since the last such flush. */
  beforeExit (store: ExitingStore): void {
    if (store.writableEnded || store.destroyed) return
    const accepted = this.#ledger.accepted
    if (this.#ledger.pending === 0 || accepted === this.#flushedTo) return
    this.#flushedTo = accepted
    this.#log.info({ pending: this.#ledger.pending }, 'flushing at exit')
    store.flush({ timeoutMs: this.#timeoutMs })
      .catch((err: unknown) => this.#log.error({ err }, 'flush at exit incomplete'))
      // No close comes: what the lanes settled is checkpointed here instead.
      .finally(() => this.#sink.checkpointLanes())
  }

  /** At `exit`: logs how many events are unsettled, and makes the exit code say so. */
  exit (): void {
    const count = this.#ledger.pending
    if (count === 0) return
    this.#log.error({ count, accepted: this.#ledger.accepted }, 'events unsettled at exit')
    // A process that lost audit events must not look successful to its supervisor or CI.
    if (process.exitCode === undefined || process.exitCode === 0) process.exitCode = 1
  }
}
