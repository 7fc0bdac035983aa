/**
 * The counters a store reports: per flush and over its life.
 */

/**
 * Counts reported by a settled flush: the events it covers, that is every event accepted (or
 * refused) before it that no flush already settled at the time of the call covered.
 *
 * @example
 * ```ts
 * const { written, deadLettered }: FlushResult = await store.flush()
 * ```
 */
export interface FlushResult {
  /** Events the sink stored. */
  readonly written: number
  /** Events handed to the dead letter (invalid, rejected, exhausted or shut down). */
  readonly deadLettered: number
  /** Events refused by `record()` because the store was full or closing. */
  readonly dropped: number
  /** Events that failed and could not be dead-lettered. */
  readonly lost: number
}

/**
 * A snapshot of a store's counters since it was created.
 *
 * @example
 * ```ts
 * const { pending, inFlight, lost }: StoreStats = store.stats()
 * ```
 */
export interface StoreStats {
  /**
   * Events taken into the store, each numbered at the entry: recorded, or
   * written through the stream (an invalid one is accepted, then
   * dead-lettered). Always `written + deadLettered + lost + pending`.
   */
  readonly accepted: number
  /** Events `record()` refused because the store was full or closing, and writes after the end. Never accepted. */
  readonly dropped: number
  /** Events that failed validation, whether thrown by `record()` or dead-lettered from the stream. */
  readonly invalid: number
  /** Events the sink stored. */
  readonly written: number
  /** Events handed to the dead letter. */
  readonly deadLettered: number
  /** Events that failed and could not be dead-lettered. */
  readonly lost: number
  /** Send attempts that were retried. */
  readonly retries: number
  /** Batches settled by the sink (written or dead-lettered). */
  readonly batches: number
  /** Events inside the store that are not settled yet, in any stage. */
  readonly pending: number
  /** Batches the sink is sending right now. */
  readonly inFlight: number
  /** Events a spool held when the store opened it, recovered and delivered ahead of new ones (0 without a spool). Included in `accepted`. */
  readonly recovered: number
  /** What the spool holds on disk: events and bytes of segments not yet deleted (settled events stay until the spool next writes its floor). */
  readonly spooled: {
    /** Events in the spool's segments. */
    readonly events: number
    /** Bytes of the spool's segments. */
    readonly bytes: number
  }
  /** Damage cut from the spool's segments when it was opened: bytes, and events their frame headers claimed. */
  readonly spoolCorrupt: {
    /** Bytes discarded. */
    readonly bytes: number
    /** Events the discarded records' headers claimed, where they could be read. */
    readonly events: number
  }
}
