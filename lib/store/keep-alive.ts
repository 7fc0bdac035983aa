/**
 * Keeping the process up while someone waits on the store.
 */

/**
 * Every timer of the store is unref'd, so a retry sleep alone would let the
 * process exit in the middle of an awaited flush. While at least one wait is
 * held (a flush, a close, an end, a producer owed 'drain'), one ref'd handle
 * keeps the process up; with none held, nothing is.
 * @internal
 */
export class KeepAlive {
  // Invariant: #handle is set exactly while #holds > 0.
  #holds = 0
  #handle: NodeJS.Timeout | undefined

  hold (): void {
    if (this.#holds++ === 0) this.#handle = setInterval(() => {}, 1 << 30)
  }

  release (): void {
    if (this.#holds > 0 && --this.#holds === 0) {
      clearInterval(this.#handle)
      this.#handle = undefined
    }
  }

  /** Holds until `promise` settles, either way; returns `promise`. */
  during<T> (promise: Promise<T>): Promise<T> {
    this.hold()
    const release = (): void => this.release()
    promise.then(release, release)
    return promise
  }
}
