/**
 * The flush marker: a chunk that travels behind every event accepted before
 * it and, once the sink is idle behind it, asks the ledger what became of them.
 */
import { FlushError, StoreClosedError } from '../errors.js'
import type { Ledger } from './ledger.js'
import type { FlushResult } from './stats.js'

/**
 * A barrier chunk that covers the events numbered `from` to `to - 1` (see
 * {@link Ledger}). The sink settles it once every batch ahead of it is
 * settled: it resolves only when the ledger shows every one of those events
 * written; any still unsettled then is counted lost. Its promise never goes
 * unhandled: the store races it against timeouts, and a marker may settle
 * after its caller stopped waiting.
 *
 * A flush covers every event accepted before it that no already-settled
 * flush covered. So when a flush is called while an earlier one is still
 * pending, it takes over that one's counts: a caller whose events went ahead
 * of someone else's marker still learns of their loss.
 *
 * @internal
 */
export class FlushMarker {
  /** The first sequence number this marker covers: the previous marker's `to`. */
  readonly from: number
  /** One past the highest sequence number this marker covers: the accepted count at the flush call. */
  readonly to: number
  readonly promise: Promise<FlushResult>
  // Invariant: events refused after the previous marker was made and before this one.
  readonly #dropped: number
  #resolve!: (result: FlushResult) => void
  #reject!: (err: Error) => void
  #settled = false
  // The marker before this one, when it was still pending as this one was created. Settles first.
  #previous: FlushMarker | undefined
  #result: FlushResult | undefined

  /**
   * @param ledger - the store's ledger; the marker's end is watched from now on
   * @param dropped - events refused since the previous marker
   * @param previous - the latest marker before this one, if any
   */
  constructor (ledger: Ledger, dropped: number, previous?: FlushMarker) {
    this.from = previous?.to ?? 0
    this.to = ledger.accepted
    ledger.watch(this.to)
    this.#dropped = dropped
    this.#previous = previous?.settled === false ? previous : undefined
    this.promise = new Promise<FlushResult>((resolve, reject) => {
      this.#resolve = resolve
      this.#reject = reject
    })
    this.promise.catch(() => {})
  }

  /** Whether the marker has resolved or rejected. */
  get settled (): boolean {
    return this.#settled
  }

  /**
   * Settles the marker from the ledger: events it covers that are still
   * unsettled are counted lost first. Resolves with the counts when every
   * covered event was written, otherwise rejects with a {@link FlushError}.
   */
  settle (ledger: Ledger): void {
    if (this.#settled) return
    ledger.settleUnsettled(this.to - 1, 'unsettled when the sink was idle for a flush')
    const counts = ledger.between(this.from, this.to)
    if (counts === undefined) {
      this.fail(new StoreClosedError('the flush could not be accounted for'))
      return
    }
    const previous = this.#previous
    this.#previous = undefined
    const result = { written: counts.written, deadLettered: counts.deadLettered, dropped: this.#dropped, lost: counts.lost }
    if (previous !== undefined) {
      if (previous.#result === undefined) {
        // The previous marker was torn down, not settled: so is this one.
        this.fail(new StoreClosedError('the store was destroyed before an earlier flush settled'))
        return
      }
      result.written += previous.#result.written
      result.deadLettered += previous.#result.deadLettered
      result.dropped += previous.#result.dropped
      result.lost += previous.#result.lost
    }
    this.#settled = true
    this.#result = result
    if (result.deadLettered + result.dropped + result.lost > 0) this.#reject(new FlushError(result))
    else this.#resolve(result)
  }

  /** Rejects with `err`, when the pipeline is torn down before the marker got through. */
  fail (err: Error): void {
    if (this.#settled) return
    this.#settled = true
    this.#previous = undefined
    this.#reject(err)
  }
}
