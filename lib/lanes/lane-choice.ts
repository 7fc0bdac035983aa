/**
 * Which lane an event travels in: all events of one correlation id share a
 * lane, so their order is kept while the lanes run independently.
 */
import zlib from 'node:zlib'
import { InvalidOptionError } from '../errors.js'

/**
 * The lane of a correlation id: CRC-32 of its UTF-8 bytes modulo `lanes`.
 *
 * @param correlationId - the event's `correlation_id`
 * @param lanes - the number of lanes, an integer >= 1
 * @returns an integer in 0..lanes-1
 * @throws {@link InvalidOptionError} when `lanes` is not an integer >= 1
 * @example
 * ```ts
 * laneOf('rr-2026-0001', 4) // the same lane for every event of rr-2026-0001
 * ```
 */
export function laneOf (correlationId: string, lanes: number): number {
  if (!Number.isSafeInteger(lanes) || lanes < 1) throw new InvalidOptionError('lanes', 'an integer >= 1', lanes)
  return zlib.crc32(correlationId) % lanes
}
