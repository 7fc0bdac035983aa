/**
 * Poison isolation: how a batch that the server refused with a split (a
 * 400, 422 or 413) is cut, so that only the events it really refuses reach
 * the dead letter.
 *
 * When the problem document's `field_errors` name the refused items by
 * index (`[17].event_type`), in one step: the refused events are one piece
 * (`<id>.r`, dead-lettered) and the rest another (`<id>.k`, resent). A lane
 * batch's pieces must each be contiguous and go in seq order, so there it
 * is cut into runs (`<id>.k0`, `<id>.r1`, ...). Without indices the batch is
 * halved (`<id>.0`, `<id>.1`), at most {@link MAX_BISECT_DEPTH} times. Each
 * piece's id derives from its parent's, so a resent piece keeps one
 * idempotency key across its attempts.
 */
import { contiguousRuns, splitBatch, subBatch, type Batch } from '../batching/batch.js'
import { SinkError } from '../errors.js'

/**
 * How many times a refused batch is halved, at most, when the server names
 * no refused items: 10 halvings isolate single events in batches of up to
 * 1024 and bound any batch to 2047 requests. A piece still refused at that
 * depth goes to the dead letter whole.
 * @internal
 */
export const MAX_BISECT_DEPTH = 10

// `[17].event_type` or `[17]`: the index of a refused item in the batch body.
const INDEXED_FIELD = /^\[(\d+)\]/

/**
 * The indices of the items a problem document's `field_errors` names, when
 * every index fits the batch; undefined when it names none.
 * @internal
 */
export function refusedIndices (error: Error, count: number): number[] | undefined {
  const fieldErrors = error instanceof SinkError ? error.problem?.field_errors : undefined
  if (fieldErrors === undefined) return undefined
  const indices = new Set<number>()
  for (const key of Object.keys(fieldErrors)) {
    const match = INDEXED_FIELD.exec(key)
    if (match === null) continue
    const index = Number(match[1])
    if (index >= count) return undefined
    indices.add(index)
  }
  return indices.size === 0 ? undefined : [...indices].sort((a, b) => a - b)
}

/** A refused batch cut into pieces, handled one after the other in this order. @internal */
export interface Isolation {
  /** Whether the server named the refused events (`field_errors`); otherwise the batch was halved. */
  readonly named: boolean
  /** How many events the server named. */
  readonly refused: number
  /** Each piece, and whether it is refused (dead-lettered) or to be resent. */
  readonly pieces: ReadonlyArray<{ readonly batch: Batch, readonly refused: boolean }>
}

/**
 * Cuts a refused batch of two events or more into pieces.
 *
 * @param batch - the refused batch
 * @param depth - how many halvings led to it
 * @param error - the refusal
 * @returns the pieces, or undefined when the batch goes to the dead letter
 *   whole (every event named, or no names at the deepest halving)
 * @internal
 */
export function isolateRefused (batch: Batch, depth: number, error: Error): Isolation | undefined {
  const count = batch.events.length
  const refused = refusedIndices(error, count)
  if (refused === undefined) {
    if (depth >= MAX_BISECT_DEPTH) return undefined
    const [first, second] = splitBatch(batch)
    return { named: false, refused: 0, pieces: [{ batch: first, refused: false }, { batch: second, refused: false }] }
  }
  if (refused.length === count) return undefined
  const kept = batch.events.map((_, i) => i).filter((i) => !refused.includes(i))
  if (batch.trail === undefined) {
    return { named: true, refused: refused.length, pieces: [{ batch: subBatch(batch, refused, `${batch.id}.r`), refused: true }, { batch: subBatch(batch, kept, `${batch.id}.k`), refused: false }] }
  }
  // A lane batch's pieces go in seq order, each contiguous: stored runs, and refused runs skipped.
  const runs = [...contiguousRuns(kept).map((run) => ({ run, refused: false })), ...contiguousRuns(refused).map((run) => ({ run, refused: true }))]
  runs.sort((a, b) => a.run[0]! - b.run[0]!)
  const pieces = runs.map(({ run, refused }, i) => ({ batch: subBatch(batch, run, `${batch.id}.${refused ? 'r' : 'k'}${i}`), refused }))
  return { named: true, refused: refused.length, pieces }
}
