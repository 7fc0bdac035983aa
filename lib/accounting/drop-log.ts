/**
 * Rate-limited logging of drops: visible in logs without a line per event.
 */
import type { Logger } from 'pino'

/** At most one summary of drops per this many milliseconds. @internal */
export const DROP_LOG_INTERVAL_MS = 10_000

/**
 * Logs a warning at the first drop, then at most one summary every
 * {@link DROP_LOG_INTERVAL_MS} with the count since the last line. After a
 * quiet interval the next drop is logged at once again. The timer is unref'd.
 * @internal
 */
export class DropLog {
  readonly #log: Logger
  // Invariant: set exactly while an interval is open, that is within DROP_LOG_INTERVAL_MS of the last line.
  #timer: NodeJS.Timeout | undefined
  // Invariant: drops since the last line, by reason; zero while no interval is open.
  #unlogged = { full: 0, 'spool-full': 0, closed: 0 }
  // The store's count of every drop, for the lines' `dropped` field: asked only when a line is written.
  readonly #dropped: () => number

  /**
   * @param log - where the lines go
   * @param dropped - the store's drop count, which owns it; read only when a line is written
   */
  constructor (log: Logger, dropped: () => number) {
    this.#log = log
    this.#dropped = dropped
  }

  /** Logs a drop the store just counted when no interval is open; otherwise keeps it for the summary. */
  record (reason: 'full' | 'spool-full' | 'closed'): void {
    if (this.#timer !== undefined) {
      this.#unlogged[reason]++
      return
    }
    this.#log.warn({ reason, count: 1, dropped: this.#dropped() }, 'event dropped')
    this.#open()
  }

  /** Logs what was not logged yet and stops the timer. */
  close (): void {
    clearTimeout(this.#timer)
    this.#timer = undefined
    this.#summary()
  }

  #open (): void {
    this.#timer = setTimeout(this.#onTimer, DROP_LOG_INTERVAL_MS)
    this.#timer.unref()
  }

  readonly #onTimer = (): void => {
    this.#timer = undefined
    if (this.#summary()) this.#open()
  }

  #summary (): boolean {
    const { full, closed } = this.#unlogged
    if (full + closed === 0) return false
    this.#log.warn({ count: full + closed, full, closed, dropped: this.#dropped(), intervalMs: DROP_LOG_INTERVAL_MS }, 'events dropped')
    this.#unlogged = { full: 0, 'spool-full': 0, closed: 0 }
    return true
  }
}
