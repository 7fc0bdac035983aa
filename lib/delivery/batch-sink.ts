/**
 * The sink: the last stage. It sends batches with retries, dead-letters what
 * cannot be delivered, and settles flush markers once everything ahead of
 * them is settled.
 */
import { setMaxListeners } from 'node:events'
import { performance } from 'node:perf_hooks'
import type { Logger } from 'pino'
import { Writable } from 'readable-stream'
import { contiguousRuns, splitBatch, subBatch, type Batch, type BatchTrail } from '../batching/batch.js'
import type { DeadLetter, DeadLetterReason } from '../dead-letter/dead-letter.js'
import { errorInfo, handOff } from '../dead-letter/hand-off.js'
import { InvalidOptionError, SinkError } from '../errors.js'
import { FlushMarker } from '../accounting/flush-marker.js'
import { guardedEmit } from './guarded-emit.js'
import type { Ledger, Outcome } from '../accounting/ledger.js'
import { defaultLogger } from '../logger.js'
import type { ResolvedRetryOptions } from '../options/retry.js'
import { resolveSinkOptions, type BatchSinkOptions } from '../options/sink.js'
import type { ResolvedTrailOptions } from '../options/trail.js'
import { backoffDelay, sleep } from './retry.js'
import { TrailNotes } from '../lanes/trail-notes.js'
import { SEQUENCE_GAP } from '../protocol/wire.js'

/** The problem type of a 409 for a lane batch that arrived ahead of an earlier one. @internal */

/**
 * What `sendBatch` gets besides the batch.
 *
 * @example
 * ```ts
 * protected async sendBatch (batch: Batch, { signal, attempt }: SendContext) {
 *   await fetch(url, { method: 'POST', body: batchBody(batch), signal })
 * }
 * ```
 */
export interface SendContext {
  /** Aborted when the store's close times out: stop sending and throw. */
  readonly signal: AbortSignal
  /** This attempt's number, from 1. */
  readonly attempt: number
}

/**
 * Payload of the `'batch'` event: a batch was stored.
 *
 * @example
 * ```ts
 * store.on('batch', (info: BatchEventInfo) => log.debug({ id: info.id, count: info.count, ms: info.durationMs }))
 * ```
 */
export interface BatchEventInfo {
  /** The batch's id. */
  readonly id: string
  /** Events in the batch. */
  readonly count: number
  /** Size of the batch's body in bytes. */
  readonly bytes: number
  /** Attempts it took. */
  readonly attempts: number
  /** Time from the first attempt to success, in milliseconds. */
  readonly durationMs: number
}

/**
 * Payload of the `'retry'` event: an attempt failed and another will follow.
 *
 * @example
 * ```ts
 * store.on('retry', (info: RetryEventInfo) => log.warn({ batchId: info.batchId, attempt: info.attempt, delayMs: info.delayMs }))
 * ```
 */
export interface RetryEventInfo {
  /** The batch's id. */
  readonly batchId: string
  /** Events in the batch. */
  readonly count: number
  /** The attempt that failed, from 1. */
  readonly attempt: number
  /** Wait before the next attempt, in milliseconds. */
  readonly delayMs: number
  /** The HTTP status of the failed attempt, when there was one. */
  readonly statusCode: number | undefined
  /** Why the attempt failed. */
  readonly error: Error
}

/**
 * Payload of the `'dead-letter'` event: events were handed to the dead letter, or lost for lack of one.
 *
 * @example
 * ```ts
 * store.on('dead-letter', (info: DeadLetterEventInfo) => { if (!info.stored) alert(`${info.count} audit events lost`) })
 * ```
 */
export interface DeadLetterEventInfo {
  /** Why. */
  readonly reason: DeadLetterReason
  /** The batch's id, when the events formed a batch. */
  readonly batchId: string | undefined
  /** Events concerned. */
  readonly count: number
  /** Attempts made. */
  readonly attempts: number
  /** Whether the dead letter took them; `false` means they were lost. */
  readonly stored: boolean
  /** The last failure, when there was one. */
  readonly error: Error | undefined
}

/**
 * What `sendNotes` gets besides the notes.
 *
 * @example
 * ```ts
 * protected async sendNotes (notes: readonly string[], { signal, publicKeyPem }: NotesContext) {
 *   await fetch(url, { method: 'POST', body: JSON.stringify({ notes, public_key: publicKeyPem }), signal })
 *   return true
 * }
 * ```
 */
export interface NotesContext {
  /** Aborted when the store's close times out. */
  readonly signal: AbortSignal
  /** The public half of the trail's signing key (SPKI PEM); undefined when notes are unsigned. */
  readonly publicKeyPem: string | undefined
}

/** A sink's counts of batches and attempts (events are counted by the ledger). @internal */
export interface SinkCounters {
  retries: number
  batches: number
}

/** What a store gives the sink it attaches. @internal */
export interface SinkAttachment {
  readonly deadLetter: DeadLetter | undefined
  readonly logger: Logger
  readonly ledger: Ledger
  /** With lanes: how many, the in-flight bound per lane, and the trail options. */
  readonly lanes?: { readonly count: number, readonly maxInFlightPerLane: number, readonly trail: ResolvedTrailOptions } | undefined
}

// One lane's batches in the sink: the in-flight bound and the batches not settled yet.
interface LaneSlot {
  inFlight: number
  // Deliveries waiting for a free slot of the lane, in cut order.
  readonly queue: Array<() => void>
  // Every batch of the lane accepted and not settled, in seq order, with a promise of its settlement.
  readonly open: Array<{ readonly seq: number, readonly last: number, readonly settled: Promise<void> }>
  // Skip notes whose post failed, oldest first: posted again before the lane's next batch, since
  // the server's lane cannot move past a range without its skip.
  readonly unposted: string[]
  // Set while the unposted skips are being posted again.
  reposting: Promise<boolean> | undefined
}

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

type Classified = { retryable: boolean, split: boolean, statusCode: number | undefined, retryAfterMs: number | undefined, error: Error }

function isGap (error: Error): boolean {
  return error instanceof SinkError && error.statusCode === 409 && error.problem?.type === SEQUENCE_GAP
}

function classify (err: unknown): Classified {
  const error = err instanceof Error ? err : new Error(String(err))
  if (error instanceof SinkError) {
    return { retryable: error.retryable, split: error.split, statusCode: error.statusCode, retryAfterMs: error.retryAfterMs, error }
  }
  return { retryable: true, split: false, statusCode: undefined, retryAfterMs: undefined, error }
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
  readonly #retry: ResolvedRetryOptions
  #concurrency: number
  // With lanes: each lane's slots and open batches, and the notes (skips, checkpoints).
  readonly #lanes = new Map<number, LaneSlot>()
  #perLane = 0
  #notes: TrailNotes | undefined
  readonly #ownLogger: Logger | undefined
  #log: Logger
  #deadLetter: DeadLetter | undefined
  // Set by attach(): every settlement is recorded here, once.
  #ledger: Ledger | undefined
  // Aborted by a close timeout: in-flight sends stop, sleeps end, later batches go straight to the dead letter.
  readonly #shutdown = new AbortController()
  // Invariant: every delivery started and not yet settled; a marker waits for this to empty.
  readonly #inFlight = new Set<Promise<void>>()
  // The write callback waiting for a free slot or for idleness; _write is serial, so at most one.
  #waiting: { callback: () => void, idle: boolean } | undefined
  readonly #counters: SinkCounters = { retries: 0, batches: 0 }
  // Set on the first release(), so finish and destroy release once.
  #released: Promise<void> | undefined

  /**
   * @param options - `retry`, `logger` and `concurrency`; unknown keys are ignored
   * @throws {@link InvalidOptionError} for a bad option
   */
  constructor (options: BatchSinkOptions = {}) {
    // Up to four batches wait here, so the batcher upstream rarely has to stop
    // and restart; each write is still answered only once its batch is settled.
    super({ objectMode: true, highWaterMark: 4 })
    const resolved = resolveSinkOptions(options)
    this.#retry = resolved.retry
    this.#concurrency = resolved.concurrency
    this.#ownLogger = resolved.logger
    this.#log = (resolved.logger ?? defaultLogger()).child({ component: 'batch-sink' })
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
    this.#deadLetter = attachment.deadLetter
    if (this.#ownLogger === undefined) this.#log = attachment.logger.child({ component: 'batch-sink' })
    const lanes = attachment.lanes
    if (lanes !== undefined) {
      this.#perLane = lanes.maxInFlightPerLane
      this.#concurrency = lanes.count * lanes.maxInFlightPerLane
      const signal = this.#shutdown.signal
      this.#notes = new TrailNotes(lanes.trail, this.#log, (notes, publicKeyPem) => this.sendNotes(notes, { signal, publicKeyPem }))
    }
    // Each send, retry sleep and note post in flight listens for the shutdown: that many, not a leak.
    setMaxListeners(this.#concurrency * 3 + 10, this.#shutdown.signal)
  }

  /** The trail's note counts, with lanes. @internal */
  noteCounts (): Readonly<TrailNotes['counts']> | undefined {
    return this.#notes === undefined ? undefined : { ...this.#notes.counts }
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
    return { ...this.#counters }
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
    const delivery = chunk.trail === undefined || this.#perLane === 0 ? this.#deliver(chunk, 0) : this.#deliverInLane(chunk, chunk.trail)
    this.#inFlight.add(delivery)
    const done = (): void => {
      this.#inFlight.delete(delivery)
      this.#release()
    }
    // #deliver never rejects; if it did through a bug, the marker behind counts the events lost.
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
      this.#notes?.checkpointAll()
      this.#notes?.stop()
      this.#notesIdle().then(() => this.#releaseOnce()).then(() => callback(), (err: unknown) => {
        this.#log.warn({ err }, 'sink release failed')
        callback()
      })
    })
  }

  /** @internal */
  override _destroy (err: Error | null, callback: (error: Error | null) => void): void {
    this.#shutdown.abort(err ?? new Error('sink destroyed'))
    this.#notes?.stop()
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
    if (this.#notes === undefined) return Promise.resolve()
    const signal = this.#shutdown.signal
    if (signal.aborted) return Promise.resolve()
    return new Promise<void>((resolve) => {
      signal.addEventListener('abort', () => resolve(), { once: true })
      void this.#notes!.idle().then(resolve)
    })
  }

  /**
   * Checkpoints every lane that moved since its last checkpoint, now (a
   * store about to exit without close does this). Posted in the background.
   * @internal
   */
  checkpointLanes (): void {
    this.#notes?.checkpointAll()
  }

  // A lane batch: waits for a slot of its lane, is delivered, then lets the lane's next one go.
  async #deliverInLane (batch: Batch, trail: BatchTrail): Promise<void> {
    const lane = this.#slot(trail)
    this.#notes?.accepted(trail)
    let settle!: () => void
    const entry = { seq: trail.seq, last: trail.seq + batch.events.length - 1, settled: new Promise<void>((resolve) => { settle = resolve }) }
    lane.open.push(entry)
    // In cut order: a batch waits behind any already waiting, and a slot passes straight to the next.
    if (lane.inFlight >= this.#perLane || lane.queue.length > 0) await new Promise<void>((resolve) => lane.queue.push(resolve))
    else lane.inFlight++
    const release = this.#attachedLedger().hold(batch.firstSeq)
    try {
      if (lane.unposted.length > 0) await this.#repostSkips(lane)
      await this.#deliver(batch, 0)
    } finally {
      release()
      lane.open.splice(lane.open.indexOf(entry), 1)
      settle()
      const next = lane.queue.shift()
      if (next === undefined) lane.inFlight--
      else next()
    }
  }

  #slot (trail: BatchTrail): LaneSlot {
    let lane = this.#lanes.get(trail.lane)
    if (lane === undefined) this.#lanes.set(trail.lane, lane = { inFlight: 0, queue: [], open: [], unposted: [], reposting: undefined })
    return lane
  }

  // Posts the lane's skips that failed before, oldest first, one post at a time per lane.
  // True when none is left unposted.
  #repostSkips (lane: LaneSlot): Promise<boolean> {
    lane.reposting ??= (async () => {
      try {
        while (lane.unposted.length > 0 && !this.#shutdown.signal.aborted) {
          await this.#notes!.post([lane.unposted[0]!])
          lane.unposted.shift()
          this.#log.info({ left: lane.unposted.length }, 'skip note posted again')
        }
        return lane.unposted.length === 0
      } catch {
        return false
      } finally {
        lane.reposting = undefined
      }
    })()
    return lane.reposting
  }

  // A sequence gap with no earlier batch of the lane open: its skips that failed may be what is missing.
  async #fillsGap (trail: BatchTrail): Promise<boolean> {
    const lane = this.#lanes.get(trail.lane)
    return lane !== undefined && lane.unposted.length > 0 && await this.#repostSkips(lane)
  }

  // The settlements of the lane's batches that end before `seq`: what a sequence gap waits for.
  #earlier (trail: BatchTrail): Array<Promise<void>> {
    return (this.#lanes.get(trail.lane)?.open ?? []).filter((e) => e.last < trail.seq).map((e) => e.settled)
  }

  // Sends a range's skip note in the lane's order, with the batch's retry policy; never rejects.
  async #postSkip (batch: Batch, trail: BatchTrail, reason: DeadLetterReason): Promise<void> {
    const notes = this.#notes!
    const text = notes.skip(trail, batch.events.length, reason)
    const signal = this.#shutdown.signal
    let attempt = 0
    while (!signal.aborted) {
      attempt++
      try {
        await notes.post([text])
        return
      } catch (err) {
        const failure = classify(err)
        if (signal.aborted) break
        const earlier = isGap(failure.error) ? this.#earlier(trail) : []
        if (earlier.length > 0) {
          attempt--
          await Promise.all(earlier)
          continue
        }
        if (isGap(failure.error) && await this.#fillsGap(trail)) {
          attempt--
          continue
        }
        if (!failure.retryable || attempt >= this.#retry.maxAttempts) {
          notes.counts.failed++
          this.#slot(trail).unposted.push(text)
          this.#log.error({ batchId: batch.id, lane: trail.lane, from: trail.seq, count: batch.events.length, err: failure.error }, 'skip note not posted: posted again before the lane\'s next batch')
          return
        }
        await sleep(backoffDelay(this.#retry, attempt, failure.retryAfterMs), signal)
      }
    }
    notes.counts.failed++
    this.#log.warn({ batchId: batch.id, lane: trail.lane, from: trail.seq, count: batch.events.length }, 'skip note not posted: delivery aborted')
  }

  #attachedLedger (): Ledger {
    if (this.#ledger === undefined) throw new InvalidOptionError('sink', 'a sink attached to a store', 'a sink used on its own')
    return this.#ledger
  }

  // Records a settlement; false when the ledger refused it (already settled, e.g. by a destroy).
  #settle (batch: Batch, outcome: Outcome): boolean {
    return this.#attachedLedger().settle(batch.seqs, outcome, { batchId: batch.id }) > 0
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

  // Never rejects: every outcome is settled in the ledger as written, dead-lettered or lost.
  async #deliver (batch: Batch, depth: number): Promise<void> {
    const signal = this.#shutdown.signal
    const started = performance.now()
    let attempt = 0
    while (!signal.aborted) {
      attempt++
      try {
        await this.sendBatch(batch, { signal, attempt })
      } catch (err) {
        const failure = classify(err)
        if (signal.aborted) break
        // Ahead of an earlier batch of its lane: sent again once that one settles, not counted as a retry.
        const earlier = batch.trail !== undefined && isGap(failure.error) ? this.#earlier(batch.trail) : []
        if (earlier.length > 0) {
          attempt--
          await Promise.all(earlier)
          continue
        }
        if (batch.trail !== undefined && isGap(failure.error) && await this.#fillsGap(batch.trail)) {
          attempt--
          continue
        }
        if (failure.split && batch.events.length > 1) return this.#isolate(batch, depth, attempt, failure)
        if (!failure.retryable || failure.split) return this.#deadLetterBatch(batch, 'rejected', attempt, failure.error)
        if (attempt >= this.#retry.maxAttempts) return this.#deadLetterBatch(batch, 'exhausted', attempt, failure.error)
        const delayMs = backoffDelay(this.#retry, attempt, failure.retryAfterMs)
        this.#counters.retries++
        this.#log.warn({ batchId: batch.id, count: batch.events.length, attempt, delayMs, statusCode: failure.statusCode, err: failure.error }, 'batch send failed')
        this.emit('retry', { batchId: batch.id, count: batch.events.length, attempt, delayMs, statusCode: failure.statusCode, error: failure.error } satisfies RetryEventInfo)
        await sleep(delayMs, signal)
        continue
      }
      const count = batch.events.length
      if (batch.trail !== undefined) this.#notes?.settled(batch.trail, count)
      if (!this.#settle(batch, 'written')) return
      this.#counters.batches++
      const durationMs = performance.now() - started
      if (this.#log.isLevelEnabled('debug')) this.#log.debug({ batchId: batch.id, count, bytes: batch.bytes, attempt, durationMs }, 'batch written')
      this.emit('batch', { id: batch.id, count, bytes: batch.bytes, attempts: attempt, durationMs } satisfies BatchEventInfo)
      return
    }
    const reason = signal.reason instanceof Error ? signal.reason : new Error('delivery aborted')
    return this.#deadLetterBatch(batch, 'shutdown', attempt, reason)
  }

  // Poison isolation for a refused batch. When the server names the refused
  // items, in one step: they go to the dead letter as one entry (`<id>.r`)
  // and the rest is resent as one batch (`<id>.k`). Otherwise the batch is
  // halved (`<id>.0`, `<id>.1`), at most MAX_BISECT_DEPTH times.
  async #isolate (batch: Batch, depth: number, attempts: number, failure: Classified): Promise<void> {
    const count = batch.events.length
    const refused = refusedIndices(failure.error, count)
    if (refused !== undefined) {
      if (refused.length === count) return this.#deadLetterBatch(batch, 'rejected', attempts, failure.error)
      const kept = batch.events.map((_, i) => i).filter((i) => !refused.includes(i))
      this.#log.warn({ batchId: batch.id, count, refused: refused.length, statusCode: failure.statusCode }, 'batch split on field errors')
      if (batch.trail !== undefined) {
        // A lane batch's pieces go in seq order, each contiguous: stored runs, and refused runs skipped.
        const pieces = [...contiguousRuns(kept).map((run) => ({ run, ok: true })), ...contiguousRuns(refused).map((run) => ({ run, ok: false }))]
        pieces.sort((a, b) => a.run[0]! - b.run[0]!)
        for (const [i, { run, ok }] of pieces.entries()) {
          if (ok) await this.#deliver(subBatch(batch, run, `${batch.id}.k${i}`), depth + 1)
          else await this.#deadLetterBatch(subBatch(batch, run, `${batch.id}.r${i}`), 'rejected', attempts, failure.error)
        }
        return
      }
      await this.#deadLetterBatch(subBatch(batch, refused, `${batch.id}.r`), 'rejected', attempts, failure.error)
      return this.#deliver(subBatch(batch, kept, `${batch.id}.k`), depth + 1)
    }
    if (depth >= MAX_BISECT_DEPTH) return this.#deadLetterBatch(batch, 'rejected', attempts, failure.error)
    const [first, second] = splitBatch(batch)
    this.#log.warn({ batchId: batch.id, count, depth, statusCode: failure.statusCode }, 'batch split after rejection')
    await this.#deliver(first, depth + 1)
    await this.#deliver(second, depth + 1)
  }

  async #deadLetterBatch (batch: Batch, reason: DeadLetterReason, attempts: number, error: Error): Promise<void> {
    const count = batch.events.length
    const info = errorInfo(error)
    const outcome = await handOff(this.#deadLetter, {
      reason,
      batchId: batch.id,
      events: batch.events,
      ...(info === undefined ? {} : { error: info }),
      attempts,
      at: new Date().toISOString()
    }, this.#log)
    // The lane goes on past the range, and says so: a skip note, never a silent gap.
    if (batch.trail !== undefined && this.#notes !== undefined) {
      await this.#postSkip(batch, batch.trail, reason)
      this.#notes.settled(batch.trail, count)
    }
    if (!this.#settle(batch, outcome === 'dead-lettered' ? 'deadLettered' : 'lost')) return
    this.#counters.batches++
    if (outcome === 'dead-lettered') this.#log.warn({ reason, batchId: batch.id, count, attempts }, 'batch dead-lettered')
    this.emit('dead-letter', { reason, batchId: batch.id, count, attempts, stored: outcome === 'dead-lettered', error } satisfies DeadLetterEventInfo)
  }
}
