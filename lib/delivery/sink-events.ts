/**
 * The payloads of the sink's events, which a store re-emits as its own:
 * `'batch'` (stored), `'retry'` (another attempt follows) and
 * `'dead-letter'` (handed to the dead letter, or lost for lack of one).
 * Each is a fresh plain object, emitted once per batch or piece it names.
 */
import type { DeadLetterReason } from '../dead-letter/dead-letter.js'

/**
 * Payload of the `'batch'` event: a batch was stored.
 *
 * @example
 * ```ts
 * store.on('batch', (info: BatchEventInfo) => log.debug({ id: info.id, count: info.count, ms: info.durationMs }))
 * ```
 */
export interface BatchEventInfo {
  /** The batch's id. */
  readonly id: string
  /** Events in the batch. */
  readonly count: number
  /** Size of the batch's body in bytes. */
  readonly bytes: number
  /** Attempts it took. */
  readonly attempts: number
  /** Time from the first attempt to success, in milliseconds. */
  readonly durationMs: number
}

/**
 * Payload of the `'retry'` event: an attempt failed and another will follow.
 *
 * @example
 * ```ts
 * store.on('retry', (info: RetryEventInfo) => log.warn({ batchId: info.batchId, attempt: info.attempt, delayMs: info.delayMs }))
 * ```
 */
export interface RetryEventInfo {
  /** The batch's id. */
  readonly batchId: string
  /** Events in the batch. */
  readonly count: number
  /** The attempt that failed, from 1. */
  readonly attempt: number
  /** Wait before the next attempt, in milliseconds. */
  readonly delayMs: number
  /** The HTTP status of the failed attempt, when there was one. */
  readonly statusCode: number | undefined
  /** Why the attempt failed. */
  readonly error: Error
}

/**
 * Payload of the `'dead-letter'` event: events were handed to the dead letter, or lost for lack of one.
 *
 * @example
 * ```ts
 * store.on('dead-letter', (info: DeadLetterEventInfo) => { if (!info.stored) alert(`${info.count} audit events lost`) })
 * ```
 */
export interface DeadLetterEventInfo {
  /** Why. */
  readonly reason: DeadLetterReason
  /** The batch's id, when the events formed a batch. */
  readonly batchId: string | undefined
  /** Events concerned. */
  readonly count: number
  /** Attempts made. */
  readonly attempts: number
  /** Whether the dead letter took them; `false` means they were lost. */
  readonly stored: boolean
  /** The last failure, when there was one. */
  readonly error: Error | undefined
}
