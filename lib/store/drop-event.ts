/**
 * The payload of the store's `'drop'` event: the one shape for every reason
 * an event is refused or cannot be taken in.
 */
import type { AuditValidationError } from '../errors.js'

/**
 * Payload of the `'drop'` event: an event was refused or could not be taken in.
 *
 * @example
 * ```ts
 * store.on('drop', (info: DropEventInfo) => metrics.drops.inc({ reason: info.reason }, info.count))
 * ```
 */
export interface DropEventInfo {
  /**
   * `full`: bufferSize reached; `spool-full`: the spool reached its maxBytes; `closed`: the store is
   * closing; `invalid`: an invalid event arrived through the stream.
   */
  readonly reason: 'full' | 'spool-full' | 'closed' | 'invalid'
  /** Events concerned. */
  readonly count: number
  /** The validation error, for reason `invalid`. */
  readonly error?: AuditValidationError
}
