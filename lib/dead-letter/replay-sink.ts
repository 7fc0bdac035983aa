/**
 * The sink replay sends through: it hands each batch to the caller's sink
 * under the dead-letter entry's original batch id, so that the resend carries
 * the same idempotency key as the first send. A batch the server committed
 * just before it was dead-lettered (a shutdown abort, a lost response) is
 * then answered as a replay and stored once, not twice.
 *
 * The original id is reused only for a batch whose events are exactly the
 * entry's, in order: the same key with another body would be refused (422)
 * and would mean something else. Anything else keeps the store's fresh id.
 */
import type { Batch } from '../batching/batch.js'
import { BatchSink } from '../delivery/batch-sink.js'
import type { SendContext } from '../delivery/send-context.js'
import type { BatchSinkOptions } from '../options/sink.js'

// BatchSink's hooks are protected; the wrapper calls the caller's sink through them.
interface SinkHooks {
  sendBatch (batch: Batch, ctx: SendContext): Promise<void>
  release (): Promise<void>
}

/** @internal */
export class ReplaySink extends BatchSink {
  readonly #inner: SinkHooks
  // Original batch ids of entries not sent yet, by their events joined with '\n' (no event holds a raw newline).
  readonly #expected = new Map<string, string[]>()
  // Invariant: every top-level batch id seen so far maps to the id it is sent under (itself when no entry matched).
  readonly #ids = new Map<string, string>()

  constructor (inner: BatchSink, options: BatchSinkOptions = {}) {
    super(options)
    this.#inner = inner as unknown as SinkHooks
  }

  /** Registers a dead-letter entry about to be written to the store. */
  expect (events: readonly string[], batchId: string): void {
    const key = events.join('\n')
    const ids = this.#expected.get(key)
    if (ids === undefined) this.#expected.set(key, [batchId])
    else ids.push(batchId)
  }

  protected async sendBatch (batch: Batch, ctx: SendContext): Promise<void> {
    return this.#inner.sendBatch({ ...batch, id: this.#originalId(batch) }, ctx)
  }

  protected override async release (): Promise<void> {
    await this.#inner.release()
  }

  // A split half `<id>.0` keeps its parent's mapping: `<original>.0`.
  #originalId (batch: Batch): string {
    const dot = batch.id.indexOf('.')
    const top = dot === -1 ? batch.id : batch.id.slice(0, dot)
    let mapped = this.#ids.get(top)
    if (mapped === undefined) {
      mapped = top
      if (dot === -1) {
        const key = batch.events.join('\n')
        const ids = this.#expected.get(key)
        const original = ids?.shift()
        if (original !== undefined) mapped = original
        if (ids !== undefined && ids.length === 0) this.#expected.delete(key)
      }
      this.#ids.set(top, mapped)
    }
    return dot === -1 ? mapped : mapped + batch.id.slice(dot)
  }
}
