/**
 * A sink that keeps what it receives in memory: for tests, examples and
 * local development.
 */
import type { Batch } from '../batching/batch.js'
import { BatchSink } from '../delivery/batch-sink.js'
import type { NotesContext, SendContext } from '../delivery/send-context.js'
import { integerOption } from '../options/checks.js'
import type { BatchSinkOptions } from '../options/sink.js'
import { sleep } from '../delivery/retry-policy.js'

/**
 * Options of {@link MemorySink}.
 *
 * @example
 * ```ts
 * const slow = new MemorySink({ delayMs: 50, retry: { maxAttempts: 1 } })
 * ```
 */
export interface MemorySinkOptions extends BatchSinkOptions {
  /**
   * Delay of every send, in milliseconds, to stand in for a slow service.
   * @default 0
   * Range: integer >= 0.
   */
  readonly delayMs?: number
}

/**
 * Stores batches in memory: `events` holds every stored event, parsed, in
 * order, and `batches` the size of each stored batch.
 *
 * @example
 * ```ts
 * const sink = new MemorySink()
 * const store = createAuditStore({ sink })
 * store.record(event)
 * await store.flush()
 * assert.equal(sink.events.length, 1)
 * ```
 */
export class MemorySink extends BatchSink {
  /** Every stored event, parsed back from its JSON, in delivery order. */
  readonly events: unknown[] = []
  /** The event count of each stored batch, in delivery order. */
  readonly batches: number[] = []
  /** Every trail note (skip or checkpoint) the store sent, as text, in order. */
  readonly notes: string[] = []
  readonly #delayMs: number

  /**
   * @param options - `delayMs` plus the {@link BatchSinkOptions}
   * @throws {@link InvalidOptionError} for a bad option
   */
  constructor (options: MemorySinkOptions = {}) {
    super(options)
    this.#delayMs = integerOption('delayMs', options.delayMs, 0, 0)
  }

  /**
   * Parses the batch and appends its events, after `delayMs`.
   * @param batch - the batch
   * @param ctx - the abort signal
   */
  protected async sendBatch (batch: Batch, ctx: SendContext): Promise<void> {
    if (this.#delayMs > 0) await sleep(this.#delayMs, ctx.signal)
    ctx.signal.throwIfAborted()
    for (const json of batch.events) this.events.push(JSON.parse(json))
    this.batches.push(batch.events.length)
  }

  /**
   * Appends the notes to `notes`.
   * @param notes - the note texts
   * @param ctx - the abort signal
   * @returns true
   */
  protected override async sendNotes (notes: readonly string[], ctx: NotesContext): Promise<boolean> {
    ctx.signal.throwIfAborted()
    this.notes.push(...notes)
    return true
  }
}
