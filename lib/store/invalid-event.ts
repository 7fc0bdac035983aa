/**
 * An invalid event written through the stream: it travels the entry in its
 * place, behind the events before it, to be dead-lettered there.
 */
import type { AuditValidationError } from '../errors.js'

/**
 * A value that failed validation at `write()`, with why. A class, so a
 * user's object can never pass for one; never spooled (there is nothing
 * valid to keep).
 * @internal
 */
export class InvalidEvent {
  /**
   * @param value - what was written
   * @param error - why it was refused, as found at the call
   */
  constructor (readonly value: unknown, readonly error: AuditValidationError) {}
}
