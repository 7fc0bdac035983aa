/**
 * The sink: the last stage of the pipeline, as a stream. It takes batches
 * and flush markers in order, delivers up to `concurrency` batches at once
 * (with lanes: `lanes * maxInFlightPerLane`, and batch-delivery.ts keeps
 * each lane's bound and order), and settles a flush marker once everything
 * ahead of it is settled. What happens to one batch, from its first attempt
 * to its settlement, is batch-delivery.ts's job.
 *
 * Invariant: a write is answered once fewer than `concurrency` deliveries
 * are in flight, and a marker only once none is, so a marker settles after
 * every batch written before it.
 */
import { setMaxListeners } from 'node:events'
import type { Logger } from 'pino'
import { Writable } from 'readable-stream'
import type { Batch } from '../batching/batch.js'
import type { DeadLetter } from '../dead-letter/dead-letter.js'
import { InvalidOptionError } from '../errors.js'
import { FlushMarker } from '../accounting/flush-marker.js'
import { guardedEmit } from './guarded-emit.js'
import type { Ledger } from '../accounting/ledger.js'
import { defaultLogger } from '../logger.js'
import { resolveSinkOptions, type BatchSinkOptions } from '../options/sink.js'
import type { ResolvedTrailOptions } from '../options/trail.js'
import { BatchDelivery, type SinkCounters } from './batch-delivery.js'
import type { LaneNotes } from '../lanes/lane-notes.js'
import type { NotesContext, SendContext } from './send-context.js'

/** What a store gives the sink it attaches. @internal */
export interface SinkAttachment {
  readonly deadLetter: DeadLetter | undefined
  readonly logger: Logger
  readonly ledger: Ledger
  /** With lanes: how many, the in-flight bound per lane, and the trail options. */
  readonly lanes?: { readonly count: number, readonly maxInFlightPerLane: number, readonly trail: ResolvedTrailOptions } | undefined
}

/**
 * An object-mode Writable that delivers {@link Batch}es. Subclasses
 * implement {@link BatchSink.sendBatch}; this class does the retries with
 * backoff, the dead-lettering, the counting and the flush barrier.
 *
 * A write is answered once its batch is settled (with `concurrency` 1), so
 * a slow sink slows the producer instead of filling memory. Delivery
 * problems never become an `'error'` event.
 *
 * A {@link SinkError} with `split` (a 400, 422 or 413) isolates the refused
 * events: when its problem document's `field_errors` name them by index
 * (`[17].event_type`), they go to the dead letter as one entry (reason
 * `rejected`, id `<id>.r`) and the rest is resent as one batch (`<id>.k`).
 * Without indices the batch is halved (`<id>.0`, `<id>.1`), at most
 * 10 levels deep (`MAX_BISECT_DEPTH`): single events in batches of up to
 * 1024, never more than 2047 requests for one batch.
 *
 * Events: `'batch'` ({@link BatchEventInfo}), `'retry'` ({@link RetryEventInfo}),
 * `'dead-letter'` ({@link DeadLetterEventInfo}).
 *
 * @example
 * ```ts
 * class ConsoleSink extends BatchSink {
 *   protected async sendBatch (batch: Batch): Promise<void> {
 *     process.stdout.write(batchBody(batch) + '\n')
 *   }
 * }
 * ```
 */
export abstract class BatchSink extends Writable {
  #concurrency: number
  // Set by attach() with lanes: lane batches then go in their lane's order; without, every batch goes unordered.
  #inLanes = false
  readonly #ownLogger: Logger | undefined
  #log: Logger
  // Set by attach(): the store's ledger, which the flush markers settle against.
  #ledger: Ledger | undefined
  // Aborted by a close timeout: in-flight sends stop, sleeps end, later batches go straight to the dead letter.
  readonly #shutdown = new AbortController()
  // Invariant: every delivery started and not yet settled; a marker waits for this to empty.
  readonly #inFlight = new Set<Promise<void>>()
  // The write callback waiting for a free slot or for idleness; _write is serial, so at most one.
  #waiting: { callback: () => void, idle: boolean } | undefined
  // Set on the first release(), so finish and destroy release once.
  #released: Promise<void> | undefined
  // Each batch from its first attempt to its settlement; it owns the counters.
  readonly #delivery: BatchDelivery

  /**
   * @param options - `retry`, `logger` and `concurrency`; unknown keys are ignored
   * @throws {@link InvalidOptionError} for a bad option
   */
  constructor (options: BatchSinkOptions = {}) {
    // Up to four batches wait here, so the batcher upstream rarely has to stop
    // and restart; each write is still answered only once its batch is settled.
    super({ objectMode: true, highWaterMark: 4 })
    const resolved = resolveSinkOptions(options)
    this.#concurrency = resolved.concurrency
    this.#ownLogger = resolved.logger
    this.#log = (resolved.logger ?? defaultLogger()).child({ component: 'batch-sink' })
    const signal = this.#shutdown.signal
    this.#delivery = new BatchDelivery(this, resolved.retry, signal, (batch, attempt) => this.sendBatch(batch, { signal, attempt }), this.#log)
  }

  /**
   * Sends one batch. Resolve when it is stored; throw a {@link SinkError}
   * to classify a failure (any other error is retryable). Stop and throw
   * when `ctx.signal` aborts.
   *
   * @param batch - the batch; the same id on every attempt
   * @param ctx - the abort signal and the attempt number
   */
  protected abstract sendBatch (batch: Batch, ctx: SendContext): Promise<void>

  /**
   * Releases what the sink owns (connections, files) once it has finished
   * or is destroyed. Called once; the default does nothing. It may return
   * nothing or throw: either is handled.
   */
  protected async release (): Promise<void> {}

  /**
   * Stores trail notes (skip and checkpoint texts) where the batches go.
   * Resolve `true` once stored, `false` when the destination keeps no notes
   * (then they go to the trail's notes file only); throw a {@link SinkError}
   * to classify a failure, as for `sendBatch`. The default keeps none.
   *
   * @param notes - the note texts, each one C2SP-style signed note
   * @param ctx - the abort signal and the signing key's public half
   * @returns whether the notes were stored
   */
  protected async sendNotes (notes: readonly string[], ctx: NotesContext): Promise<boolean> {
    void notes
    void ctx
    return false
  }

  /** The logger the sink writes to, with `component: 'batch-sink'`. */
  protected get log (): Logger {
    return this.#log
  }

  /**
   * Throws unless the sink can be attached: a store checks it before taking anything else.
   * @throws {@link InvalidOptionError} when another store has it
   * @internal
   */
  assertAttachable (): void {
    if (this.#ledger !== undefined) throw new InvalidOptionError('sink', 'a sink not attached to another store', 'an attached sink')
  }

  /**
   * Connects the sink to its store. A sink serves one store.
   * @internal
   */
  attach (attachment: SinkAttachment): void {
    this.assertAttachable()
    this.#ledger = attachment.ledger
    if (this.#ownLogger === undefined) this.#log = attachment.logger.child({ component: 'batch-sink' })
    const lanes = attachment.lanes
    const signal = this.#shutdown.signal
    if (lanes !== undefined) {
      this.#concurrency = lanes.count * lanes.maxInFlightPerLane
      this.#inLanes = true
    }
    this.#delivery.attach({
      ledger: attachment.ledger,
      deadLetter: attachment.deadLetter,
      log: this.#log,
      lanes: lanes === undefined
        ? undefined
        : { perLane: lanes.maxInFlightPerLane, trail: lanes.trail, postNotes: (texts, publicKeyPem) => this.sendNotes(texts, { signal, publicKeyPem }) }
    })
    // Each send, retry sleep and note post in flight listens for the shutdown: that many, not a leak.
    setMaxListeners(this.#concurrency * 3 + 10, this.#shutdown.signal)
  }

  /** The lanes' note counts (signed, posted, failed), with lanes. @internal */
  noteCounts (): Readonly<LaneNotes['counts']> | undefined {
    const notes = this.#delivery.notes
    return notes === undefined ? undefined : { ...notes.counts }
  }

  /**
   * Aborts sends in flight and retry sleeps; every batch not yet stored goes
   * to the dead letter with reason `shutdown`.
   * @internal
   */
  abortDelivery (): void {
    this.#shutdown.abort(new Error('close timed out'))
  }

  /** @internal */
  counters (): Readonly<SinkCounters> {
    return this.#delivery.counters()
  }

  /**
   * Emits through the guard every event of the sink goes through: a
   * listener that throws is logged at error level with the event's name and
   * otherwise ignored, and the listeners after it still run, so delivery and
   * accounting go on. `'error'` without a listener still throws, as for any emitter.
   * @internal
   */
  override emit (event: string | symbol, ...args: unknown[]): boolean {
    return guardedEmit(this, super.emit, () => this.#log, event, args)
  }

  /** @internal */
  get inFlight (): number {
    return this.#inFlight.size
  }

  /** @internal */
  override _write (chunk: Batch | FlushMarker, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (chunk instanceof FlushMarker) {
      this.#whenIdle(() => {
        chunk.settle(this.#attachedLedger())
        callback()
      })
      return
    }
    // A batch with a trail under a store without lanes (replayed from a spool that had them) goes unordered.
    const delivery = chunk.trail === undefined || !this.#inLanes ? this.#delivery.deliver(chunk, 0) : this.#delivery.deliverInLane(chunk, chunk.trail)
    this.#inFlight.add(delivery)
    const done = (): void => {
      this.#inFlight.delete(delivery)
      this.#release()
    }
    // A delivery never rejects; if it did through a bug, the marker behind counts the events lost.
    void delivery.then(done, (err: unknown) => {
      this.#log.error({ batchId: chunk.id, err }, 'batch delivery failed')
      done()
    })
    if (this.#inFlight.size < this.#concurrency) callback()
    else this.#waiting = { callback, idle: false }
  }

  /** @internal */
  override _final (callback: (error?: Error | null) => void): void {
    this.#whenIdle(() => {
      this.#delivery.notes?.checkpointAll()
      this.#delivery.notes?.stop()
      this.#notesIdle().then(() => this.#releaseOnce()).then(() => callback(), (err: unknown) => {
        this.#log.warn({ err }, 'sink release failed')
        callback()
      })
    })
  }

  /** @internal */
  override _destroy (err: Error | null, callback: (error: Error | null) => void): void {
    this.#shutdown.abort(err ?? new Error('sink destroyed'))
    this.#delivery.notes?.stop()
    this.#releaseOnce().catch((releaseErr: unknown) => this.#log.warn({ err: releaseErr }, 'sink release failed'))
    callback(err)
  }

  #releaseOnce (): Promise<void> {
    // A subclass's release() may return nothing, or throw: both become a promise.
    this.#released ??= Promise.resolve().then(() => this.release())
    return this.#released
  }

  // The checkpoint posts under way, until they settle or delivery is aborted (a close that timed out).
  #notesIdle (): Promise<void> {
    const notes = this.#delivery.notes
    if (notes === undefined) return Promise.resolve()
    const signal = this.#shutdown.signal
    if (signal.aborted) return Promise.resolve()
    return new Promise<void>((resolve) => {
      signal.addEventListener('abort', () => resolve(), { once: true })
      void notes.idle().then(resolve)
    })
  }

  /**
   * Checkpoints every lane that moved since its last checkpoint, now (a
   * store about to exit without close does this). Posted in the background.
   * @internal
   */
  checkpointLanes (): void {
    this.#delivery.notes?.checkpointAll()
  }

  #attachedLedger (): Ledger {
    if (this.#ledger === undefined) throw new InvalidOptionError('sink', 'a sink attached to a store', 'a sink used on its own')
    return this.#ledger
  }

  #whenIdle (fn: () => void): void {
    if (this.#inFlight.size === 0) fn()
    else this.#waiting = { callback: fn, idle: true }
  }

  #release (): void {
    const waiting = this.#waiting
    if (waiting === undefined) return
    if (waiting.idle ? this.#inFlight.size === 0 : this.#inFlight.size < this.#concurrency) {
      this.#waiting = undefined
      waiting.callback()
    }
  }
}
