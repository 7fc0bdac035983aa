/**
 * The close deadline, in two stages. Past `timeoutMs` the first runs (the
 * store aborts delivery, so unsent events go straight to the dead letter); a
 * dead letter that never answers gets as long again, then the second runs
 * (the store is torn down). One timer at a time, unref'd: a close never keeps
 * the process up by its deadline alone.
 */

/**
 * Runs `onExpired` after `timeoutMs`, then `onDeadLetterSilent` after as
 * long again, unless cleared first.
 * @internal
 */
export class CloseTimer {
  // The stage armed last: the first, then the second once the first has run.
  #timer: NodeJS.Timeout
  // Invariant: set once the first stage has run.
  #expired = false

  /**
   * @param timeoutMs - the length of each stage
   * @param onExpired - the first stage: the close timed out
   * @param onDeadLetterSilent - the second stage: the dead letter did not answer in time either
   */
  constructor (timeoutMs: number, onExpired: () => void, onDeadLetterSilent: () => void) {
    this.#timer = setTimeout(() => {
      this.#expired = true
      onExpired()
      this.#timer = setTimeout(onDeadLetterSilent, timeoutMs)
      this.#timer.unref()
    }, timeoutMs)
    this.#timer.unref()
  }

  /** Whether the first stage has run: the close timed out. */
  get expired (): boolean {
    return this.#expired
  }

  /** Stops the stage armed now. */
  clear (): void {
    clearTimeout(this.#timer)
  }
}
