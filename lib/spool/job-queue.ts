/**
 * The spool's job queue: every file operation of the spool runs inside a
 * job, and jobs run one at a time, in the order they were queued, so no two
 * ever touch the directory at once (the order of operations at the top of
 * lib/spool/spool.ts holds across jobs, not only within one).
 *
 * Once halted, by a job that threw or by {@link JobQueue.halt}, no queued or
 * later job starts: after a disk error or a destroy, nothing touches the
 * files again.
 * @internal
 */
export class JobQueue {
  // Invariant: settles once every job queued so far has run or been skipped; never rejects.
  #tail: Promise<void> = Promise.resolve()
  // Invariant: set once, by the first job that throws or by halt(); no job starts after it.
  #halted = false
  // Told the error of the first job that throws (at most once: the queue halts then).
  readonly #onError: (err: Error) => void

  /** @param onError - told the error of the job that throws, once */
  constructor (onError: (err: Error) => void) {
    this.#onError = onError
  }

  /**
   * Queues `job` behind every job queued before it.
   * @returns a promise that settles (never rejects) once the job ran, threw or was skipped
   */
  enqueue (job: () => Promise<void>): Promise<void> {
    const next = this.#tail.then(async () => {
      if (this.#halted) return
      try {
        await job()
      } catch (err) {
        this.#halted = true
        this.#onError(err as Error)
      }
    })
    this.#tail = next
    return next
  }

  /** No job queued before or after this call starts (the job under way finishes). */
  halt (): void {
    this.#halted = true
  }

  /** Settles once every job queued so far has run or been skipped. */
  get idle (): Promise<void> {
    return this.#tail
  }
}
