/**
 * The marker chain: the store's flush markers, in the order they were made.
 * Each marker covers the events accepted since the one before it, and the
 * drops since, so that together they cover every event exactly once. The
 * chain keeps the markers not yet settled, to fail them all when the
 * pipeline is torn down, and the one end marker, made once at end.
 */
import { FlushMarker } from './flush-marker.js'
import type { Ledger } from './ledger.js'

/**
 * Makes a store's flush markers and fails the unsettled ones on teardown.
 * @internal
 */
export class MarkerChain {
  readonly #ledger: Ledger
  // Invariant: markers handed to flush() and not yet settled; the end marker is never among them.
  readonly #unsettled = new Set<FlushMarker>()
  // Made once, at end: settles when the sink has finished.
  #end: FlushMarker | undefined
  // The latest marker made; the next one covers the events after it.
  #last: FlushMarker | undefined
  // Invariant: the store's drop count when #last was made; later drops belong to the next marker.
  #droppedAtLast = 0

  /** @param ledger - the store's ledger, which every marker asks */
  constructor (ledger: Ledger) {
    this.#ledger = ledger
  }

  /** The end marker, once made. */
  get end (): FlushMarker | undefined {
    return this.#end
  }

  /**
   * A marker for a flush: it covers every event accepted since the latest
   * marker and the drops since, and is failed on teardown until it settles.
   * @param dropped - the store's drop count now
   */
  forFlush (dropped: number): FlushMarker {
    const marker = this.#next(dropped)
    this.#unsettled.add(marker)
    const forget = (): void => { this.#unsettled.delete(marker) }
    void marker.promise.then(forget, forget)
    return marker
  }

  /**
   * The end marker, made at the first call: it covers what no flush marker did.
   * @param dropped - the store's drop count now
   */
  forEnd (dropped: number): FlushMarker {
    this.#end ??= this.#next(dropped)
    return this.#end
  }

  /** Fails every marker not settled yet, the end marker included. */
  failAll (err: Error): void {
    for (const marker of this.#unsettled) marker.fail(err)
    this.#end?.fail(err)
  }

  #next (dropped: number): FlushMarker {
    const marker = new FlushMarker(this.#ledger, dropped - this.#droppedAtLast, this.#last)
    this.#droppedAtLast = dropped
    this.#last = marker
    return marker
  }
}
