import type { ProblemDocument } from '../errors.js'

/**
 * The dead letter: where events go that the sink could not deliver, so that
 * nothing is lost silently and everything can be replayed.
 */

/**
 * Why events were dead-lettered.
 *
 * @example
 * ```ts
 * const retriable = (reason: DeadLetterReason) => reason === 'exhausted' || reason === 'shutdown'
 * ```
 */
export type DeadLetterReason = 'invalid' | 'rejected' | 'exhausted' | 'shutdown'

/**
 * One dead-letter record: a batch (or a single invalid event) and why it failed.
 *
 * @example
 * ```ts
 * const entry: DeadLetterEntry = JSON.parse(line)
 * if (entry.reason === 'rejected') console.log(entry.error?.problem?.field_errors)
 * ```
 */
export interface DeadLetterEntry {
  /** `invalid`: failed validation; `rejected`: the server refused it; `exhausted`: out of attempts; `shutdown`: unsent at a close timeout. */
  readonly reason: DeadLetterReason
  /** The batch's id (its idempotency key), when the events formed a batch. */
  readonly batchId?: string
  /**
   * The serialized events. For reason `invalid`, the event as far as it
   * could be serialized, or a description when it could not.
   */
  readonly events: readonly string[]
  /** The last failure. */
  readonly error?: DeadLetterErrorInfo
  /** Send attempts made; 0 when none was made. */
  readonly attempts: number
  /** When the entry was written, as an ISO 8601 string. */
  readonly at: string
}

/**
 * The failure recorded with a dead-letter entry.
 *
 * @example
 * ```ts
 * for (const entry of entries) console.log(entry.error?.statusCode, entry.error?.message)
 * ```
 */
export interface DeadLetterErrorInfo {
  /** The server's problem document (`title`, `detail`, `field_errors`), for reason `rejected`. */
  readonly problem?: ProblemDocument
  /** The error's message. */
  readonly message: string
  /** The error's code, when it had one. */
  readonly code?: string
  /** The HTTP status, when there was a response. */
  readonly statusCode?: number
}

/**
 * Takes entries the pipeline could not deliver. `write` resolves once the
 * entry is durable; a rejection makes the store count its events as lost.
 *
 * @example
 * ```ts
 * const deadLetter: DeadLetter = { async write (entry) { await queue.put(entry) } }
 * ```
 */
export interface DeadLetter {
  /**
   * Stores one entry.
   * @param entry - the entry
   * @returns a promise that resolves once the entry is stored
   */
  write (entry: DeadLetterEntry): Promise<void>
}
