/**
 * A batch: what the batcher emits and a sink sends as one request.
 */
import { randomUUID } from 'node:crypto'

/**
 * Serialized events sent together. The id doubles as the request's idempotency key.
 *
 * @example
 * ```ts
 * protected async sendBatch (batch: Batch) {
 *   await post('/audit', batchBody(batch), { 'idempotency-key': batch.id })
 * }
 * ```
 */
export interface Batch {
  /** A UUID; the same on every attempt to send this batch. */
  readonly id: string
  /** The serialized events, in the order they were accepted. */
  readonly events: readonly string[]
  /** Size in bytes of the JSON array body: the events, the commas between them and the brackets. */
  readonly bytes: number
}

/**
 * Makes a batch with a fresh id.
 * @internal
 */
export function createBatch (events: readonly string[], bytes: number): Batch {
  return { id: randomUUID(), events, bytes }
}

/**
 * The JSON array body of a batch, joined from the already-serialized events.
 *
 * @param batch - the batch
 * @returns `[` + the events joined by `,` + `]`
 *
 * @example
 * ```ts
 * const body = batchBody(batch) // '[{"version":"1.0",...},{...}]'
 * ```
 */
export function batchBody (batch: Batch): string {
  return '[' + batch.events.join(',') + ']'
}

/**
 * Splits a batch in two halves, each with an id derived from the parent's,
 * so that resending a half reuses the same idempotency key.
 * @internal
 */
export function splitBatch (batch: Batch): [Batch, Batch] {
  const middle = Math.ceil(batch.events.length / 2)
  const half = (events: readonly string[], suffix: string): Batch => ({
    id: `${batch.id}.${suffix}`,
    events,
    bytes: 2 + events.reduce((sum, e) => sum + Buffer.byteLength(e), 0) + Math.max(0, events.length - 1)
  })
  return [half(batch.events.slice(0, middle), '0'), half(batch.events.slice(middle), '1')]
}
