/**
 * An invalid event written through the stream: it travels the entry in its
 * place, behind the events before it, and is dead-lettered there. In that
 * order: emitted as a `'drop'`, handed to the dead letter, settled in the
 * ledger (dead-lettered or lost; never spooled, so its loss holds no spooled
 * event back), then emitted as a `'dead-letter'`.
 */
import { inspect } from 'node:util'
import type { Logger } from 'pino'
import type { Ledger } from '../accounting/ledger.js'
import type { DeadLetter } from '../dead-letter/dead-letter.js'
import { deadLetterEvents } from '../dead-letter/hand-off.js'
import type { AuditValidationError } from '../errors.js'
import type { DropEventInfo } from './drop-event.js'

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

/**
 * Dead-letters the invalid event numbered `seq`, then settles it and emits
 * the store's events for it. Never rejects: the event settles as
 * dead-lettered or lost, and the store's emit() guards its listeners.
 *
 * @param invalid - the event and why it was refused
 * @param seq - its ledger sequence number
 * @param store - where `'drop'` and `'dead-letter'` are emitted
 * @param deadLetter - the store's dead letter, if any
 * @param ledger - the store's ledger
 * @param log - the store's logger
 * @internal
 */
export async function deadLetterInvalid (
  invalid: InvalidEvent, seq: number, store: { emit (event: string, info: unknown): boolean },
  deadLetter: DeadLetter | undefined, ledger: Ledger, log: Logger
): Promise<void> {
  const { value, error } = invalid
  // Not from within _writev: a listener's write would land in the buffer the stream then clears.
  await null
  store.emit('drop', { reason: 'invalid', count: 1, error } satisfies DropEventInfo)
  // Never spooled: its loss holds no spooled event back (see Ledger.keptFloor).
  await deadLetterEvents({
    deadLetter, ledger, log, reason: 'invalid', batchId: undefined, events: [describeInvalid(value)], seqs: [seq, seq],
    spooled: false, attempts: 0, error, report: (info) => store.emit('dead-letter', info)
  })
}

// What a dead-letter entry keeps of an invalid event: its JSON when it has one.
function describeInvalid (value: unknown): string {
  try {
    const json = JSON.stringify(value)
    if (typeof json === 'string') return json
  } catch {
    // falls through to a printable description
  }
  try {
    return inspect(value, { depth: 4, breakLength: Infinity })
  } catch {
    // A value whose toJSON() and inspect hook both throw still gets an entry.
    return '[an invalid event that cannot be printed]'
  }
}
