/**
 * Handing events to the dead letter, counting what could not be handed.
 */
import type { Logger } from 'pino'
import type { ProblemDocument } from '../errors.js'
import type { DeadLetter, DeadLetterEntry, DeadLetterErrorInfo } from './dead-letter.js'

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
