/**
 * Handing events to the dead letter, and the one sequence every path that
 * gives up on events follows: hand them to the dead letter, settle them in
 * the ledger by what it answered (dead-lettered, or lost when there is none
 * or its write failed), then report it as the `'dead-letter'` event. The
 * ledger settles each event once; the report says whether this call did.
 */
import type { Logger } from 'pino'
import type { Ledger } from '../accounting/ledger.js'
import type { SeqRanges } from '../batching/seq-ranges.js'
import type { DeadLetterEventInfo } from '../delivery/sink-events.js'
import type { ProblemDocument } from '../errors.js'
import type { DeadLetter, DeadLetterEntry, DeadLetterErrorInfo, DeadLetterReason } from './dead-letter.js'

/**
 * Describes an error for a dead-letter entry without payloads or secrets.
 * @internal
 */
export function errorInfo (err: unknown): DeadLetterErrorInfo | undefined {
  if (err === undefined) return undefined
  if (!(err instanceof Error)) return { message: String(err) }
  const e = err as Error & { code?: unknown, statusCode?: unknown, problem?: ProblemDocument }
  return {
    message: e.message,
    ...(typeof e.code === 'string' ? { code: e.code } : {}),
    ...(typeof e.statusCode === 'number' ? { statusCode: e.statusCode } : {}),
    ...(e.problem !== undefined ? { problem: e.problem } : {})
  }
}

/**
 * Writes `entry` to the dead letter. Never rejects: a missing dead letter or
 * a failed write is logged at error level and reported as `'lost'`.
 *
 * @internal
 */
export async function handOff (deadLetter: DeadLetter | undefined, entry: DeadLetterEntry, log: Logger): Promise<'dead-lettered' | 'lost'> {
  const count = entry.events.length
  if (deadLetter === undefined) {
    log.error({ reason: entry.reason, batchId: entry.batchId, count, attempts: entry.attempts, error: entry.error }, 'events lost: no dead letter')
    return 'lost'
  }
  try {
    await deadLetter.write(entry)
    return 'dead-lettered'
  } catch (err) {
    log.error({ reason: entry.reason, batchId: entry.batchId, count, err }, 'events lost: dead letter write failed')
    return 'lost'
  }
}

/** Events given up on, and where they go: the input of {@link deadLetterEvents}. @internal */
export interface GivenUp {
  /** Where they go; undefined: they are lost. */
  readonly deadLetter: DeadLetter | undefined
  readonly ledger: Ledger
  readonly log: Logger
  readonly reason: DeadLetterReason
  /** The batch's id, when the events formed a batch: the entry's `batchId` and the settlement's log context. */
  readonly batchId: string | undefined
  /** The serialized events. */
  readonly events: readonly string[]
  /** Their ledger seqs. */
  readonly seqs: SeqRanges
  /** False for events the spool never had (see {@link Ledger.settle}). */
  readonly spooled: boolean
  /** Send attempts made; 0 when none was. */
  readonly attempts: number
  /** The last failure, when there was one. */
  readonly error: Error | undefined
  /** Runs once the dead letter answered, before the settlement (a lane posts its skip note there). */
  readonly beforeSettle?: (() => Promise<void>) | undefined
  /**
   * Reports the outcome (emits `'dead-letter'`); `settled` is false when the
   * ledger had settled the events already (a destroy, say) and refused them.
   */
  readonly report: (info: DeadLetterEventInfo, settled: boolean) => void
}

/**
 * Hands events to the dead letter, settles them in the ledger by the
 * outcome, then reports it. Never rejects (unless `beforeSettle` or `report` does).
 *
 * @internal
 */
export async function deadLetterEvents (given: GivenUp): Promise<void> {
  const { reason, batchId, error } = given
  const info = errorInfo(error)
  const outcome = await handOff(given.deadLetter, {
    reason,
    ...(batchId === undefined ? {} : { batchId }),
    events: given.events,
    ...(info === undefined ? {} : { error: info }),
    attempts: given.attempts,
    at: new Date().toISOString()
  }, given.log)
  if (given.beforeSettle !== undefined) await given.beforeSettle()
  const stored = outcome === 'dead-lettered'
  const settled = given.ledger.settle(given.seqs, stored ? 'deadLettered' : 'lost', batchId === undefined ? undefined : { batchId }, given.spooled) > 0
  given.report({ reason, batchId, count: given.events.length, attempts: given.attempts, stored, error }, settled)
}
