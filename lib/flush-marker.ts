/**
 * The flush marker: a chunk that travels behind every event written before
 * it and collects what happened to them on the way.
 */
import { FlushError, StoreClosedError } from './errors.js'
import type { FlushResult } from './stats.js'

type Counts = { written: number, deadLettered: number, dropped: number, lost: number }

/**
 * A barrier chunk. Each stage adds the counts of the events it settled since
 * the previous marker, and the sink settles it once every batch ahead of it
 * is settled. Its promise never goes unhandled: the store races it against
 * timeouts, and a marker may settle after its caller stopped waiting.
 *
 * A flush covers every event accepted before it that no already-settled
 * flush covered. So when a flush is called while an earlier one is still
 * pending, it takes over that one's counts: a caller whose events went ahead
 * of someone else's marker still learns of their loss.
 *
 * @internal
 */
export class FlushMarker {
  // Invariant: counts cover events that entered the pipeline after the previous marker.
  readonly #counts: Counts = { written: 0, deadLettered: 0, dropped: 0, lost: 0 }
  readonly promise: Promise<FlushResult>
  #resolve!: (result: FlushResult) => void
  #reject!: (err: Error) => void
  #settled = false
  // The marker before this one, when it was still pending as this one was created. Settles first.
  #previous: FlushMarker | undefined
  #result: FlushResult | undefined

  /** @param previous - the latest marker before this one; ignored when already settled */
  constructor (previous?: FlushMarker) {
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

  /** Adds one stage's counts. */
  add (counts: Partial<Counts>): void {
    this.#counts.written += counts.written ?? 0
    this.#counts.deadLettered += counts.deadLettered ?? 0
    this.#counts.dropped += counts.dropped ?? 0
    this.#counts.lost += counts.lost ?? 0
  }

  /** Resolves with the counts, or rejects with a {@link FlushError} when any event is not in the sink. */
  settle (): void {
    if (this.#settled) return
    const previous = this.#previous
    this.#previous = undefined
    if (previous !== undefined) {
      if (previous.#result === undefined) {
        // The previous marker was torn down, not settled: so is this one.
        this.fail(new StoreClosedError('the store was destroyed before an earlier flush settled'))
        return
      }
      this.add(previous.#result)
    }
    this.#settled = true
    const result: FlushResult = { ...this.#counts }
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
