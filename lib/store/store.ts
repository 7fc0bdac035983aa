/**
 * The store: the entry of the pipeline. Events are validated and serialized
 * here, then flow into the batcher and on to the sink.
 */
import { randomUUID } from 'node:crypto'
import { inspect } from 'node:util'
import type { Logger } from 'pino'
import { Writable, pipeline } from 'readable-stream'
import { BatchSink, type BatchEventInfo, type DeadLetterEventInfo, type RetryEventInfo } from '../delivery/batch-sink.js'
import { BatchTransform, ReplayedBatch } from '../batching/batch-transform.js'
import { errorInfo, handOff } from '../dead-letter/hand-off.js'
import type { AuditValidationError} from '../errors.js';
import {
  AuditLossError, CloseTimeoutError, InvalidOptionError, SpoolError, StoreClosedError
} from '../errors.js'
import { encodeAuditEvent, type AuditEvent } from '../event/event.js'
import { EventRun } from '../batching/event-run.js'
import { chainEvents } from '../chain/chain-hash.js'
import { LaneChains } from '../lanes/lane-chains.js'
import { InvalidEvent } from './invalid-event.js'
import { bodyBytesWith, EMPTY_BODY_BYTES, type Batch } from '../batching/batch.js'
import { replaySpool, type SpooledTrail } from '../spool/recovery.js'
import { FlushMarker } from '../accounting/flush-marker.js'
import { guardedEmit } from '../delivery/guarded-emit.js'
import { deliveryHealthOf, type DeliveryHealth, type StoreHealth } from '../delivery/health.js'
import { withDeadline } from './deadline.js'
import { KeepAlive } from './keep-alive.js'
import { DropLog } from '../accounting/drop-log.js'
import { unwatchProcessExit, watchProcessExit } from './exit-hooks.js'
import { Ledger } from '../accounting/ledger.js'
import { defaultLogger } from '../logger.js'
import { timeoutOption } from '../options/checks.js'
import { DEFAULTS } from '../options/defaults.js'
import type { AuditStoreOptions, CloseOptions, FlushOptions, ResolvedStoreOptions } from '../options/store.js'
import { resolveStoreOptions } from './store-options.js'
import { Spool } from '../spool/spool.js'
import { kSpoolFiles, nodeSpoolFiles, type SpoolFiles } from '../spool/spool-files.js'
import type { FlushResult, StoreStats } from '../accounting/stats.js'
import { appendSeqs } from '../batching/seq-ranges.js'

/**
 * Payload of the `'drop'` event: an event was refused or could not be taken in.
 *
 * @example
 * ```ts
 * store.on('drop', (info: DropEventInfo) => metrics.drops.inc({ reason: info.reason }, info.count))
 * ```
 */
export interface DropEventInfo {
  /**
   * `full`: bufferSize reached; `spool-full`: the spool reached its maxBytes; `closed`: the store is
   * closing; `invalid`: an invalid event arrived through the stream.
   */
  readonly reason: 'full' | 'spool-full' | 'closed' | 'invalid'
  /** Events concerned. */
  readonly count: number
  /** The validation error, for reason `invalid`. */
  readonly error?: AuditValidationError
}

type WriteCallback = (error?: Error | null) => void

const EMPTY_RESULT: FlushResult = Object.freeze({ written: 0, deadLettered: 0, dropped: 0, lost: 0 })

/**
 * An object-mode Writable of {@link AuditEvent}s that batches them and
 * delivers them through its sink, with a flush that drains every stage.
 *
 * - `record(event)` is the non-blocking call for request paths.
 * - `write`/`pipe`/`pipeline` follow normal backpressure and drop nothing.
 * - `flush()` resolves once every event accepted before it is stored, or
 *   rejects with a {@link FlushError} that says what was not.
 * - `close()` ends the store and resolves with the final stats.
 *
 * Delivery problems never become an `'error'` event. Events: `'batch'`,
 * `'retry'`, `'dead-letter'` (see {@link BatchSink}) and `'drop'`
 * ({@link DropEventInfo}), besides the stream's own. Every event goes
 * through one guard: a listener that throws is logged at error level with
 * the event's name and otherwise ignored, so it can never break delivery.
 *
 * Every accepted event gets a sequence number at the entry and settles
 * exactly once, as written, dead-lettered or lost, so that
 * `accepted = written + deadLettered + lost + pending` always holds in
 * {@link AuditStore.stats}. When the process is about to exit with events
 * undelivered the store flushes by itself (option `flushOnExit`), and at
 * `exit` it logs at error level how many are still unsettled.
 *
 * @example
 * ```ts
 * const store = createAuditStore({ sink: new MemorySink() })
 * store.record(newAuditEvent({ event_type: 'user.login', event_category: 'auth',
 *   event_action: 'login', event_outcome: 'success', correlation_id: 'req-1' }))
 * await store.flush()
 * await store.close()
 * ```
 */
export class AuditStore extends Writable {
  readonly #options: ResolvedStoreOptions
  readonly #sink: BatchSink
  readonly #batcher: BatchTransform
  readonly #log: Logger
  // The lanes' producer; undefined with `lanes: 0`.
  readonly #producerId: string | undefined
  // Settles when the batcher and the sink have finished or failed.
  readonly #pipelineDone: Promise<void>
  // The one owner of event accounting: every accepted event is numbered and settles there once.
  readonly #ledger: Ledger
  // Events recorded in this tick, not yet written into the stream.
  #run: EventRun | undefined
  // Invariant: the sequence number of the next event to reach #forward. Chunks
  // reach it in the order the ledger numbered them, so it recounts the same numbers.
  #entrySeq = 0
  // Events refused by record() or by a write after the end, and events that failed validation.
  #dropped = 0
  #invalid = 0
  // Invariant: #dropped when the latest marker was made; later drops belong to the next flush.
  #droppedAtMarker = 0
  readonly #dropLog: DropLog
  // Set when write() returned false because bufferSize events are pending
  // downstream; 'drain' is then owed once a settlement brings them below it.
  #owesDrain = false
  // Markers written and not yet settled; failed if the pipeline is torn down.
  readonly #markers = new Set<FlushMarker>()
  // Created once, at end: settles when the sink has finished.
  #endMarker: FlushMarker | undefined
  // The latest marker made; the next one covers the events after it.
  #lastMarker: FlushMarker | undefined
  #closing: Promise<StoreStats> | undefined
  // Held while a flush, close, end or owed 'drain' is awaited.
  readonly #keepAlive = new KeepAlive()
  // Invariant: the accepted count when the store last flushed by itself at beforeExit.
  #exitFlushedTo = 0
  // The sink's own health tracker when it has one (it probes), else the store's; fed by every stored batch.
  readonly #health: DeliveryHealth
  // The durable copy, when option `spool` is set: every accepted event is appended at acceptance.
  readonly #spool: Spool | undefined
  // Invariant: recovered events (numbered 0 .. n - 1 by the ledger) not yet handed to the batcher;
  // they are on disk, not in memory, so record()'s bound does not count them.
  #unreplayed = 0
  // Set while recovered events are replayed: the entry stays corked so that new events follow them.
  #replaying: Promise<void> | undefined

  /**
   * @param options - see {@link AuditStoreOptions}
   * @throws {@link InvalidOptionError} for a bad option or a sink already in use
   */
  constructor (options: AuditStoreOptions) {
    const resolved = resolveStoreOptions(options)
    super({ objectMode: true, highWaterMark: resolved.bufferSize })
    if (!(resolved.sink instanceof BatchSink)) throw new InvalidOptionError('sink', 'a BatchSink', resolved.sink)
    this.#options = resolved
    this.#sink = resolved.sink
    const logger = resolved.logger ?? defaultLogger()
    this.#log = logger.child({ component: 'audit-store' })
    this.#ledger = new Ledger(this.#log)
    this.#dropLog = new DropLog(this.#log)
    // Before the spool takes its directory's lock: a sink another store has is refused first.
    this.#sink.assertAttachable()
    let spool: Spool | undefined
    if (resolved.spool !== undefined) {
      const files = (options as { [kSpoolFiles]?: SpoolFiles })[kSpoolFiles] ?? nodeSpoolFiles
      spool = new Spool({ ...resolved.spool, files }, this.#log, () => this.#ledger.keptFloor)
      spool.onRoom = () => this.#maybeDrain()
    }
    this.#spool = spool
    // Only once nothing above can throw: a store that failed to construct leaves its sink free.
    // With a spool, the producer and its lanes go on where the spool's last store left them.
    this.#producerId = resolved.lanes === 0 ? undefined : spool?.producerIdFor(resolved.producerId) ?? resolved.producerId ?? randomUUID()
    const chains = this.#producerId === undefined ? undefined : new LaneChains(this.#producerId, resolved.lanes, spool?.laneHeads(this.#producerId, resolved.lanes))
    const lanes = chains === undefined
      ? undefined
      : { count: resolved.lanes, maxInFlightPerLane: resolved.maxInFlightPerLane, trail: resolved.trail ?? UNSIGNED_TRAIL }
    this.#sink.attach({ deadLetter: resolved.deadLetter, logger, ledger: this.#ledger, lanes })
    this.#batcher = new BatchTransform({
      ...resolved,
      chains,
      onCut: spool === undefined ? undefined : (batch) => spool.appendBatch(batch.id, batch.seqs, batch.trail)
    })
    for (const name of ['batch', 'retry', 'dead-letter'] as const) {
      this.#sink.on(name, (info: BatchEventInfo | RetryEventInfo | DeadLetterEventInfo) => {
        this.emit(name, info)
        if (name !== 'retry') this.#maybeDrain()
      })
    }
    this.#health = deliveryHealthOf(this.#sink)
    this.#sink.on('batch', () => this.#health.answered())
    this.#pipelineDone = new Promise((resolve) => {
      pipeline(this.#batcher, this.#sink, (err) => {
        // A sink destroyed with an error (by itself or its owner) tears the store down,
        // but never as an 'error' event: that would crash a host with no listener.
        if (err != null && !this.destroyed) {
          this.#log.error({ err }, 'delivery pipeline failed: destroying the store')
          this.destroy()
        }
        resolve()
      })
    })
    if (spool !== undefined && spool.recovered.count > 0) {
      // Recovered events take the first numbers and go ahead of anything new.
      const count = spool.recovered.count
      this.#ledger.accept(count)
      this.#entrySeq = count
      this.#unreplayed = count
      this.cork()
      this.#replaying = this.#replay(spool)
    }
    watchProcessExit(this, { exit: AuditStore.#atExit, beforeExit: resolved.flushOnExit ? AuditStore.#beforeExit : undefined })
  }

  // At exit nothing can be delivered any more: say how much was not.
  static #atExit (store: AuditStore): void {
    const count = store.#ledger.pending
    if (count === 0) return
    store.#log.error({ count, accepted: store.#ledger.accepted }, 'events unsettled at exit')
    // A process that lost audit events must not look successful to its supervisor or CI.
    if (process.exitCode === undefined || process.exitCode === 0) process.exitCode = 1
  }

  // The event loop ran dry with events undelivered: flush them, once for
  // each new lot, bounded by closeTimeoutMs. The flush keeps the process up
  // while it waits; beforeExit then comes again and finds nothing new.
  static #beforeExit (store: AuditStore): void {
    if (store.writableEnded || store.destroyed) return
    const accepted = store.#ledger.accepted
    if (store.#ledger.pending === 0 || accepted === store.#exitFlushedTo) return
    store.#exitFlushedTo = accepted
    store.#log.info({ pending: store.#ledger.pending }, 'flushing at exit')
    store.flush({ timeoutMs: store.#options.closeTimeoutMs })
      .catch((err: unknown) => store.#log.error({ err }, 'flush at exit incomplete'))
      // No close comes: what the lanes settled is checkpointed here instead.
      .finally(() => store.#sink.checkpointLanes())
  }

  /**
   * Emits through the guard every event of the store goes through: a
   * listener that throws is logged at error level with the event's name and
   * otherwise ignored; the listeners after it still run. `'error'` without a listener still throws, as for any emitter.
   * @internal
   */
  override emit (event: string | symbol, ...args: unknown[]): boolean {
    return guardedEmit(this, super.emit, () => this.#log, event, args)
  }

  /**
   * Takes an event without ever waiting: validates and serializes it now, so
   * what is stored is this moment's snapshot.
   *
   * @param event - the event
   * @returns `true` when accepted; `false` when refused because `bufferSize`
   *   events are pending or the store is closing (counted and emitted as `'drop'`)
   * @throws {@link AuditValidationError} for an invalid event, one that cannot be serialized, or one over `maxEventBytes`
   * @example
   * ```ts
   * if (!store.record(event)) metrics.auditBackpressure.inc()
   * ```
   */
  record (event: AuditEvent): boolean {
    const closing = this.#closing !== undefined || this.writableEnded || this.destroyed
    const spoolFull = this.#spool?.full === true
    if (closing || spoolFull || this.#ledger.pending - this.#unreplayed >= this.#options.bufferSize) {
      // An invalid event throws even when it would be dropped: the caller's bug shows either way.
      this.#encodeOrThrow(event, new EventRun())
      return this.#drop(closing ? 'closed' : spoolFull ? 'spool-full' : 'full')
    }
    let run = this.#run
    if (run === undefined) {
      run = this.#run = new EventRun()
      process.nextTick(this.#writeRun)
    }
    this.#encodeOrThrow(event, run)
    this.#ledger.accept()
    if (run.length >= this.#options.batchSize) this.#writeRun()
    return true
  }

  #encodeOrThrow (event: unknown, run: EventRun): void {
    try {
      encodeAuditEvent(event, this.#options.maxEventBytes, run, this.#options.eventSchema)
    } catch (err) {
      this.#invalid++
      throw err
    }
  }

  // Writes the events recorded so far as one chunk. Called once per tick, when
  // a run reaches batchSize, and before anything else enters the stream, so
  // record() and write() keep their order.
  readonly #writeRun = (): void => {
    const run = this.#run
    if (run === undefined) return
    this.#run = undefined
    if (run.length === 0) return
    this.#spool?.appendRun(this.#ledger.accepted - run.length, run.events, run.sizes)
    Writable.prototype.write.call(this, run)
  }

  /**
   * Writes an event with normal stream backpressure: returns `false` past
   * `bufferSize` and drops nothing. An invalid event is dead-lettered (reason
   * `invalid`) and emitted as `'drop'`; the stream keeps running. After the
   * store has ended, the write is refused with a {@link StoreClosedError}
   * passed to the callback, counted as dropped, and never emitted as `'error'`.
   * Without a callback (as `pipe` and `pipeline` write), a valid event is
   * serialized at once and travels in the tick's run, like a recorded one;
   * with one, it enters the stream on its own and the callback says when it
   * was taken in. Either way what is stored is the event as it was at the call.
   *
   * @param chunk - an {@link AuditEvent}
   * @param encoding - ignored (object mode), or the callback
   * @param callback - called once the event is taken in
   * @returns whether the producer may keep writing
   */
  override write (chunk: unknown, encoding?: string | ((error?: Error | null) => void), callback?: (error?: Error | null) => void): boolean {
    const cb = typeof encoding === 'function' ? encoding : callback
    if (this.writableEnded || this.destroyed) {
      this.#drop('closed')
      if (cb !== undefined) process.nextTick(cb, new StoreClosedError())
      return false
    }
    // Without a callback nobody waits for this one event: it joins the tick's run, as a recorded
    // one does, and the stream pays its overhead per run. An invalid event (or null) takes the
    // stream's own path behind the run, to be dead-lettered (or refused) in its place.
    if (cb === undefined && chunk !== null && chunk !== undefined) {
      const error = this.#runWrite(chunk)
      if (error === undefined) return this.#admit()
      chunk = new InvalidEvent(chunk, error)
    }
    // write(null) throws here, as for any stream, counting nothing.
    if (chunk === null) return super.write(chunk)
    this.#writeRun()
    if (!(chunk instanceof InvalidEvent)) chunk = this.#encodeChunk(chunk)
    // Numbered before the stream takes it: a write from a listener that the stream's own write
    // runs is numbered after this one, in the spool as at the entry.
    this.#ledger.accept()
    const below = cb === undefined ? super.write(chunk) : super.write(chunk, cb)
    return below ? this.#admit() : this.#oweDrain()
  }

  // Adds a valid event to the tick's run, like record(); for an invalid one, takes nothing and
  // returns why.
  #runWrite (chunk: unknown): AuditValidationError | undefined {
    let run = this.#run
    if (run === undefined) {
      run = this.#run = new EventRun()
      process.nextTick(this.#writeRun)
    }
    try {
      encodeAuditEvent(chunk, this.#options.maxEventBytes, run, this.#options.eventSchema)
    } catch (err) {
      return err as AuditValidationError
    }
    this.#ledger.accept()
    if (run.length >= this.#options.batchSize) this.#writeRun()
    return undefined
  }

  // Whether a producer may keep writing: bufferSize bounds what is pending across every stage
  // (the entry forwards at once, so its own buffer rarely fills), and a full spool pushes back.
  #admit (): boolean {
    if (this.#ledger.pending - this.#unreplayed < this.#options.bufferSize && this.#spool?.full !== true) return true
    return this.#oweDrain()
  }

  // A producer now waits for 'drain'; keep the process up until it comes.
  #oweDrain (): false {
    if (!this.#owesDrain) this.#keepAlive.hold()
    this.#owesDrain = true
    return false
  }

  // A stream event is serialized at acceptance, like a recorded one (and
  // spooled); an invalid one goes on with why, to be dead-lettered in its place.
  // Judged once, here: a value completed after the call stays refused.
  #encodeChunk (chunk: unknown): EventRun | InvalidEvent {
    const run = new EventRun()
    try {
      encodeAuditEvent(chunk, this.#options.maxEventBytes, run, this.#options.eventSchema)
    } catch (err) {
      return new InvalidEvent(chunk, err as AuditValidationError)
    }
    this.#spool?.appendRun(this.#ledger.accepted, run.events, run.sizes)
    return run
  }

  /**
   * Resolves once every event accepted before this call is in the spool at
   * its configured durability: written to the kernel (`'process'`), or also
   * fdatasync'd (`'os'`, where every caller waiting at one moment shares one
   * sync). Delivery is not awaited: that is {@link AuditStore.flush}.
   *
   * @returns a promise that resolves when the events are durable
   * @throws {@link SpoolError} when the store has no spool, when a disk error failed the spool
   *   (the store then delivers from memory only), when the store closes first, or at once on a
   *   destroyed store
   * @example
   * ```ts
   * store.record(event)
   * await store.persisted() // survives kill -9 ('process') or power loss ('os')
   * res.end('ok')
   * ```
   */
  persisted (): Promise<void> {
    const spool = this.#spool
    if (spool === undefined) return Promise.reject(new SpoolError('the store has no spool: set option `spool`'))
    // What a destroyed store had not persisted never will be: it cannot vouch for anything now.
    if (this.destroyed) return Promise.reject(new SpoolError('the store was destroyed: persisted() cannot vouch for its events'))
    this.#writeRun()
    return spool.persisted()
  }

  /**
   * Ends the store: what was written is still delivered, and the process
   * stays up until it is (like a file stream's last writes). Prefer
   * {@link AuditStore.close}, which also reports the outcome.
   *
   * @param args - as for any Writable: an optional last chunk, encoding and callback
   * @returns the store
   */
  override end (...args: unknown[]): this {
    // Ending uncorks the entry: new events must not pass recovered ones still being replayed.
    if (this.#replaying !== undefined && !this.destroyed) {
      void this.#replaying.then(() => this.end(...args))
      return this
    }
    // A last chunk goes through write(), so that the ledger numbers it like any other.
    if (typeof args[0] !== 'function' && args[0] !== undefined && args[0] !== null && !this.writableEnded && !this.destroyed) {
      this.write(args[0])
      args = args.slice(1)
      if (typeof args[0] !== 'function') args = args.slice(1)
    }
    this.#writeRun()
    if (!this.writableEnded && !this.destroyed) {
      this.#keepAlive.hold()
      void this.#pipelineDone.then(() => this.#keepAlive.release())
    }
    return (super.end as (...a: unknown[]) => this)(...args)
  }

  /**
   * Resolves once every event accepted before this call is settled. The
   * events pending at the entry, in the batcher and in the sink all go ahead
   * of this flush's marker; events written during the flush go behind it.
   *
   * @param options - `signal` and `timeoutMs` bound the wait, not the delivery
   * @returns the counts of the events this flush covers: every event accepted (or refused) before it
   *   that no flush already settled at the time of this call covered
   * @throws {@link FlushError} when any of those events is not in the sink (dead-lettered, dropped or
   *   lost); one the ledger still shows unsettled once the sink is idle behind the flush is counted lost
   * @throws {@link StoreClosedError} at once on a store destroyed before it finished; also when the
   *   store is destroyed while the flush waits
   * @throws {@link TimeoutError} after `timeoutMs`; the events stay in flight, and the flush no longer keeps the process alive
   * @throws {@link AbortError} when `signal` aborts; the events stay in flight
   * @example
   * ```ts
   * const { written } = await store.flush({ timeoutMs: 5000 })
   * ```
   */
  flush (options: FlushOptions = {}): Promise<FlushResult> {
    const timeoutMs = timeoutOption('timeoutMs', options.timeoutMs)
    const signal = options.signal
    if (signal?.aborted === true) return withDeadline(Promise.resolve(EMPTY_RESULT), 'flush', undefined, signal)
    // A destroyed store answers at once: with its end's outcome once it finished, otherwise closed.
    if (this.destroyed) return this.#endMarker?.promise ?? Promise.reject(new StoreClosedError('the store was destroyed: nothing can be flushed'))
    let marker: FlushMarker
    if (this.writableEnded) {
      marker = this.#endMarkerFor()
    } else {
      this.#writeRun()
      marker = this.#newMarker()
      this.#markers.add(marker)
      const forget = (): void => { this.#markers.delete(marker) }
      void marker.promise.then(forget, forget)
      // Corked so the marker and everything pending reach _writev together.
      this.cork()
      super.write(marker)
      process.nextTick(() => this.uncork())
    }
    const settled = marker === this.#endMarker ? this.#pipelineDone.then(() => marker.promise) : marker.promise
    const waited = withDeadline(settled, 'flush', timeoutMs, signal)
    // The process stays up for the caller's wait only: a flush that timed out or aborted holds nothing.
    this.#keepAlive.hold()
    const release = (): void => this.#keepAlive.release()
    waited.then(release, release)
    return waited
  }

  /**
   * Ends the store and waits until the sink has finished. Idempotent: every
   * caller gets the same promise. On timeout, sends in flight are aborted and
   * every unsent event goes to the dead letter with reason `shutdown`; if the
   * dead letter has not answered after another `timeoutMs`, the store is
   * destroyed and what is still pending is counted lost.
   *
   * @param options - `timeoutMs` overrides the store's `closeTimeoutMs`
   * @returns the final stats
   * @throws {@link CloseTimeoutError} when the timeout expired (stats attached)
   * @throws {@link AuditLossError} when any event was dropped or lost over the store's life
   * @example
   * ```ts
   * process.once('SIGTERM', () => { store.close().finally(() => process.exit()) })
   * ```
   */
  close (options: CloseOptions = {}): Promise<StoreStats> {
    if (this.#closing !== undefined) return this.#closing
    const timeoutMs = timeoutOption('timeoutMs', options.timeoutMs) ?? this.#options.closeTimeoutMs
    this.#keepAlive.hold()
    this.#closing = new Promise<StoreStats>((resolve, reject) => {
      let timedOut = false
      let settled = false
      let timer = setTimeout(() => {
        timedOut = true
        this.#log.error({ timeoutMs, pending: this.#ledger.pending }, 'close timed out: aborting delivery')
        this.#sink.abortDelivery()
        // Unsent events now go straight to the dead letter. One that never
        // answers gets as long again; then the store is torn down and what is
        // still pending is counted lost.
        timer = setTimeout(() => {
          this.#log.error({ timeoutMs, pending: this.#ledger.pending }, 'dead letter did not answer: destroying the store')
          this.destroy()
        }, timeoutMs)
        timer.unref()
      }, timeoutMs)
      timer.unref()
      const settle = (): void => {
        if (settled) return
        settled = true
        clearTimeout(timer)
        this.#keepAlive.release()
        const stats = this.stats()
        if (timedOut) reject(new CloseTimeoutError(timeoutMs, stats))
        else if (stats.dropped > 0 || stats.lost > 0) reject(new AuditLossError(stats))
        else resolve(stats)
      }
      if (this.writableFinished || this.destroyed) settle()
      else {
        this.once('finish', settle)
        this.once('close', settle)
        if (!this.writableEnded) this.end()
      }
    })
    // An unawaited close must not crash the host; losses are logged as they happen.
    this.#closing.catch(() => {})
    return this.#closing
  }

  /**
   * The producer id of the store's lanes (a UUID): what `audit-stream verify
   * --producer-id` and `GET /api/v1/audit/verify?producer_id=` take.
   * Undefined with `lanes: 0`.
   */
  get producerId (): string | undefined {
    return this.#producerId
  }

  /**
   * A fresh snapshot of the counters.
   * @returns the store's {@link StoreStats}
   */
  stats (): StoreStats {
    const sink = this.#sink.counters()
    const settled = this.#ledger.settled()
    return {
      accepted: this.#ledger.accepted,
      dropped: this.#dropped,
      invalid: this.#invalid,
      written: settled.written,
      deadLettered: settled.deadLettered,
      lost: settled.lost,
      retries: sink.retries,
      batches: sink.batches,
      pending: this.#ledger.pending,
      inFlight: this.#sink.inFlight,
      recovered: this.#spool?.recovered.count ?? 0,
      spooled: { events: this.#spool?.events ?? 0, bytes: this.#spool?.bytes ?? 0 },
      spoolCorrupt: { ...(this.#spool?.corruption ?? { bytes: 0, events: 0 }) }
    }
  }

  /**
   * Whether audit delivery works right now, for a readiness probe
   * ({@link readinessHandler}). Not ready until a delivery or a probe of the
   * endpoint has succeeded; then ready while one succeeded in the last 30 s
   * and fewer than 80 % of `bufferSize` events are pending (and, with a spool,
   * while the spool is writable); never ready once
   * `close()` has begun.
   * @returns `{ ready, reasons }`, and the endpoints' health for a {@link DataStorageSink}
   * @example
   * ```ts
   * const { ready, reasons } = store.health()
   * ```
   */
  health (): StoreHealth {
    return this.#health.summary({ pending: this.stats().pending, bufferSize: this.#options.bufferSize, closing: this.#closing !== undefined || this.destroyed, spoolFailed: this.#spool?.failed === true })
  }

  /** @internal */
  override _write (chunk: unknown, _encoding: BufferEncoding, callback: WriteCallback): void {
    this.#forward([chunk], 0, callback)
  }

  /** @internal */
  override _writev (chunks: Array<{ chunk: unknown }>, callback: WriteCallback): void {
    this.#forward(chunks.map((c) => c.chunk), 0, callback)
  }

  /** @internal */
  override _final (callback: WriteCallback): void {
    const marker = this.#endMarkerFor()
    this.#batcher.end(marker)
    void this.#pipelineDone.then(async () => {
      // The sink settled the marker on its way through; this covers a torn-down pipeline.
      marker.fail(new StoreClosedError('the store was destroyed before the flush settled'))
      // Everything settled: the spool empties itself. Otherwise its files stay for the next store.
      if (this.#spool !== undefined && !this.destroyed) await this.#spool.close(this.#ledger.pending === 0)
      callback()
    })
  }

  /** @internal */
  override _destroy (err: Error | null, callback: (error: Error | null) => void): void {
    unwatchProcessExit(this)
    this.#dropLog.close()
    // Before the ledger counts what is pending as lost: the spool keeps it for the next store.
    this.#spool?.abandon()
    // Everything not settled is counted lost, once: deliveries still under way
    // settle later, and the ledger refuses (and logs) that second settlement.
    const pending = this.#ledger.settleUnsettled(this.#ledger.accepted - 1, 'store destroyed')
    if (pending > 0) this.#log.error({ count: pending, err }, 'events lost: store destroyed')
    const failure = new StoreClosedError(`the store was destroyed before the flush settled (${pending} events pending)`)
    for (const marker of this.#markers) marker.fail(failure)
    this.#endMarker?.fail(failure)
    this.#maybeDrain()
    this.#batcher.destroy()
    this.#sink.destroy()
    callback(err)
  }

  #maybeDrain (): void {
    if (this.#owesDrain && (this.destroyed || (this.#ledger.pending - this.#unreplayed < this.#options.bufferSize && this.#spool?.full !== true))) {
      this.#owesDrain = false
      this.#keepAlive.release()
      if (!this.destroyed) this.emit('drain')
    }
  }

  #drop (reason: 'full' | 'spool-full' | 'closed'): false {
    this.#dropped++
    this.#dropLog.record(reason)
    this.emit('drop', { reason, count: 1 } satisfies DropEventInfo)
    return false
  }

  // Hands the recovered events to the batcher, a segment at a time, with
  // backpressure; then uncorks the entry so that new events follow them.
  async #replay (spool: Spool): Promise<void> {
    // Never done within the constructor: #replaying is set before it is cleared.
    await null
    // Ledger seqs handed to the batcher, as ranges: on a failure, the others are counted lost.
    const handed: Array<[number, number]> = []
    try {
      for (const item of replaySpool(spool.recovered)) {
        if (this.destroyed) return
        let chunk: EventRun | ReplayedBatch
        if (item.kind === 'run') {
          chunk = new EventRun()
          for (let i = 0; i < item.events.length; i++) chunk.push(item.events[i]!, item.sizes[i]!, correlationIdOfJson(item.events[i]!))
          chunk.firstSeq = item.firstLedgerSeq
          handed.push([item.firstLedgerSeq, item.firstLedgerSeq + item.events.length - 1])
        } else {
          const batch = replayedBatch(item.id, item.events, item.sizes, item.ledgerSeqs, item.trail)
          chunk = new ReplayedBatch(batch)
          for (let i = 0; i + 1 < batch.seqs.length; i += 2) handed.push([batch.seqs[i]!, batch.seqs[i + 1]!])
        }
        this.#unreplayed -= item.events.length
        if (!this.#batcher.write(chunk)) await new Promise<void>((resolve) => {
          const done = (): void => { this.#batcher.off('drain', done); this.#batcher.off('close', done); resolve() }
          this.#batcher.on('drain', done)
          this.#batcher.on('close', done)
        })
      }
    } catch (err) {
      // What could not be read back is lost, and counted so: every recovered number not handed over.
      let lost = 0
      let next = 0
      for (const [first, last] of handed.sort((a, b) => a[0] - b[0])) {
        if (first > next) lost += this.#ledger.settle([next, first - 1], 'lost')
        next = Math.max(next, last + 1)
      }
      if (next < spool.recovered.count) lost += this.#ledger.settle([next, spool.recovered.count - 1], 'lost')
      this.#log.error({ err, count: lost }, 'spool replay failed')
    } finally {
      spool.replayed()
      this.#unreplayed = 0
      this.#replaying = undefined
      if (!this.destroyed) this.uncork()
      this.#maybeDrain()
    }
  }

  // A marker covering every event accepted since the latest one, and the drops since.
  #newMarker (): FlushMarker {
    const marker = new FlushMarker(this.#ledger, this.#dropped - this.#droppedAtMarker, this.#lastMarker)
    this.#droppedAtMarker = this.#dropped
    this.#lastMarker = marker
    return marker
  }

  #endMarkerFor (): FlushMarker {
    this.#endMarker ??= this.#newMarker()
    return this.#endMarker
  }

  // Moves chunks into the batcher, validating stream events on the way. Stays
  // synchronous until the batcher pushes back or an invalid event needs the dead letter.
  #forward (chunks: unknown[], start: number, callback: WriteCallback): void {
    let below = true
    for (let i = start; i < chunks.length; i++) {
      const chunk = chunks[i] as EventRun | FlushMarker | InvalidEvent
      if (chunk instanceof EventRun) {
        chunk.firstSeq = this.#entrySeq
        this.#entrySeq += chunk.length
        below = this.#batcher.write(chunk)
      } else if (chunk instanceof FlushMarker) {
        below = this.#batcher.write(chunk)
      } else {
        // Refused at write(): dead-lettered here, in its place behind the events before it.
        const resume = (): void => this.#forward(chunks, i + 1, callback)
        this.#rejectInvalid(chunk.value, chunk.error, this.#entrySeq++).then(resume, (bug: unknown) => {
          this.#log.error({ err: bug }, 'invalid event not settled')
          resume()
        })
        return
      }
    }
    // What one call hands over is bounded by the entry's own buffer; then wait for the batcher.
    if (below) callback()
    else this.#batcher.once('drain', () => callback())
  }

  // Never rejects: the event settles as dead-lettered or lost; listeners are guarded by emit().
  async #rejectInvalid (value: unknown, error: AuditValidationError, seq: number): Promise<void> {
    this.#invalid++
    // Not from within _writev: a listener's write would land in the buffer the stream then clears.
    await null
    this.emit('drop', { reason: 'invalid', count: 1, error } satisfies DropEventInfo)
    const info = errorInfo(error)
    const outcome = await handOff(this.#options.deadLetter, {
      reason: 'invalid',
      events: [describeInvalid(value)],
      ...(info === undefined ? {} : { error: info }),
      attempts: 0,
      at: new Date().toISOString()
    }, this.#log)
    // Never spooled: its loss holds no spooled event back (see Ledger.keptFloor).
    this.#ledger.settle([seq, seq], outcome === 'dead-lettered' ? 'deadLettered' : 'lost', undefined, false)
    this.emit('dead-letter', { reason: 'invalid', batchId: undefined, count: 1, attempts: 0, stored: outcome === 'dead-lettered', error } satisfies DeadLetterEventInfo)
    this.#maybeDrain()
  }

}

// A batch read back from the spool: the same id and events, so the same body.
function replayedBatch (id: string, events: string[], sizes: number[], ledgerSeqs: number[], trail: SpooledTrail | undefined): Batch {
  const seqs: number[] = []
  let bytes = EMPTY_BODY_BYTES
  for (let i = 0; i < events.length; i++) {
    bytes = bodyBytesWith(bytes, i, sizes[i]!)
    appendSeqs(seqs, ledgerSeqs[i]!)
  }
  const batch = { id, events, sizes, bytes, firstSeq: seqs[0]!, lastSeq: seqs.at(-1)!, seqs }
  if (trail === undefined) return batch
  // The hashes are recomputed from the same bytes: the same chain, the same headers.
  const prev = Buffer.from(trail.prev, 'hex')
  return { ...batch, trail: { producerId: trail.producerId, lane: trail.lane, seq: trail.seq, prev, hashes: chainEvents(trail.producerId, trail.lane, trail.seq, prev, events) } }
}

// The lane key of a recovered event: its correlation_id, read back from its bytes.
function correlationIdOfJson (json: string): string {
  try {
    const id = (JSON.parse(json) as { correlation_id?: unknown }).correlation_id
    return typeof id === 'string' ? id : ''
  } catch {
    return ''
  }
}

// Trail options without a signing key: skip notes, unsigned; no checkpoints.
const UNSIGNED_TRAIL = Object.freeze({ signingKey: undefined, keyName: DEFAULTS.trail.keyName, everyEvents: DEFAULTS.trail.everyEvents, intervalMs: DEFAULTS.trail.intervalMs, file: undefined })

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

/**
 * Creates a store. The same as `new AuditStore(options)`.
 *
 * @param options - see {@link AuditStoreOptions}; only `sink` is required
 * @returns a new store
 * @throws {@link InvalidOptionError} for a bad option
 * @example
 * ```ts
 * const store = createAuditStore({ sink: new MemorySink(), batchSize: 500, flushIntervalMs: 200 })
 * ```
 */
export function createAuditStore (options: AuditStoreOptions): AuditStore {
  return new AuditStore(options)
}
