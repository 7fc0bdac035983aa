/**
 * The store: the entry of the pipeline and its public API. It wires the
 * pipeline (entry -> batcher -> sink, with the ledger, the spool and the
 * lanes), admits events (validated and serialized once, at the call, and
 * numbered by the ledger), and answers flush, close and stats.
 *
 * Every event enters through one admission path, #encode(). record() and a
 * write() without a callback gather the tick's events into one run, so the
 * stream pays its overhead per run; nothing else runs per event. Chunks reach
 * the batcher in the order the ledger numbered them: a tick's run is written
 * out before anything else enters the stream.
 *
 * Longer than a file should be, for two reasons: the public API's TSDoc is a
 * third of it, and the hot path (record(), write() and the entry they feed)
 * stays in the class, since moving it behind another object would add a call
 * layer per event. Every job that is off that path lives in its own file:
 * the marker chain, the close timer, the exit hooks, spool recovery, invalid
 * events, stats.
 */
import { randomUUID } from 'node:crypto'
import type { Logger } from 'pino'
import { Writable, pipeline } from 'readable-stream'
import { BatchSink } from '../delivery/batch-sink.js'
import type { BatchEventInfo, DeadLetterEventInfo, RetryEventInfo } from '../delivery/sink-events.js'
import { BatchTransform } from '../batching/batch-transform.js'
import type { AuditValidationError } from '../errors.js'
import { AuditLossError, CloseTimeoutError, InvalidOptionError, SpoolError, StoreClosedError } from '../errors.js'
import { encodeAuditEvent, type AuditEvent } from '../event/event.js'
import { EventRun } from '../batching/event-run.js'
import { LaneChains } from '../lanes/lane-chains.js'
import { deadLetterInvalid, InvalidEvent } from './invalid-event.js'
import type { DropEventInfo } from './drop-event.js'
import { recoverSpooledEvents } from './spool-recovery.js'
import { CloseTimer } from './close-timer.js'
import { FlushMarker } from '../accounting/flush-marker.js'
import { MarkerChain } from '../accounting/marker-chain.js'
import { guardedEmit } from '../delivery/guarded-emit.js'
import { deliveryHealthOf, type DeliveryHealth, type StoreHealth } from '../delivery/health.js'
import { withDeadline } from './deadline.js'
import { KeepAlive } from './keep-alive.js'
import { DropLog } from '../accounting/drop-log.js'
import { unwatchProcessExit, watchProcessExit } from './exit-hooks.js'
import { AtExit } from './at-exit.js'
import { storeStats } from './store-stats.js'
import { Ledger } from '../accounting/ledger.js'
import { defaultLogger } from '../logger.js'
import { timeoutOption } from '../options/checks.js'
import type { AuditStoreOptions, CloseOptions, FlushOptions, ResolvedStoreOptions } from '../options/store.js'
import { UNSIGNED_TRAIL } from '../options/trail.js'
import { resolveStoreOptions } from './store-options.js'
import { Spool } from '../spool/spool.js'
import { kSpoolFiles, nodeSpoolFiles, type SpoolFiles } from '../spool/spool-files.js'
import type { FlushResult, StoreStats } from '../accounting/stats.js'

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
  // Events admitted in this tick through record() or a write() without a callback, not yet written into the stream.
  #eventRun: EventRun | undefined
  // Invariant: the sequence number of the next event to reach #forward. Chunks
  // reach it in the order the ledger numbered them, so it recounts the same numbers.
  #entrySeq = 0
  // Events refused by record() or by a write after the end (never accepted, so not in the ledger).
  #dropped = 0
  // Events that failed validation, whether thrown by record() or dead-lettered from the stream.
  #invalid = 0
  readonly #dropLog: DropLog
  // Set when write() returned false because bufferSize events are pending
  // downstream; 'drain' is then owed once a settlement brings them below it.
  #owesDrain = false
  // Every flush marker, the end marker included; each covers the events since the one before.
  readonly #markers: MarkerChain
  #closing: Promise<StoreStats> | undefined
  // Held while a flush, close, end or owed 'drain' is awaited.
  readonly #keepAlive = new KeepAlive()
  // What the store does when the process is about to exit.
  readonly #exitHooks: AtExit
  // The sink's own health tracker when it has one (it probes), else the store's; fed by every stored batch.
  readonly #health: DeliveryHealth
  // The durable copy, when option `spool` is set: every accepted event is appended at acceptance.
  readonly #spool: Spool | undefined
  // Invariant: recovered events (numbered 0 .. n - 1 by the ledger) not yet handed to the batcher;
  // they are on disk, not in memory, so record()'s bound does not count them.
  #unrecovered = 0
  // Set while recovered events are handed to the batcher: the entry stays corked so that new events follow them.
  #recovering: Promise<void> | undefined

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
    this.#markers = new MarkerChain(this.#ledger)
    this.#dropLog = new DropLog(this.#log, () => this.#dropped)
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
      this.#unrecovered = count
      this.cork()
      this.#recovering = this.#recover(spool)
    }
    this.#exitHooks = new AtExit(this.#ledger, this.#log, resolved.closeTimeoutMs, this.#sink)
    watchProcessExit(this, { exit: AuditStore.#atExit, beforeExit: resolved.flushOnExit ? AuditStore.#beforeExit : undefined })
  }

  // The exit hooks get the store as their argument and hold nothing of it.
  static #atExit (store: AuditStore): void {
    store.#exitHooks.exit()
  }

  static #beforeExit (store: AuditStore): void {
    store.#exitHooks.beforeExit(store)
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
    const refused = closing || spoolFull || this.#ledger.pending - this.#unrecovered >= this.#options.bufferSize
    // An invalid event throws even when it would be dropped: the caller's bug shows either way.
    const run = refused ? new EventRun() : this.#eventRun ?? this.#openEventRun()
    const error = this.#encode(event, run)
    if (error !== undefined) {
      this.#invalid++
      throw error
    }
    if (refused) return this.#drop(closing ? 'closed' : spoolFull ? 'spool-full' : 'full')
    this.#ledger.accept()
    if (run.length >= this.#options.batchSize) this.#writeRun()
    return true
  }

  // The one admission path: validates and serializes `event` into `run`, or returns why it is
  // invalid and takes nothing. Judged once, here: a value completed after the call stays refused.
  #encode (event: unknown, run: EventRun): AuditValidationError | undefined {
    try {
      encodeAuditEvent(event, this.#options.maxEventBytes, run, this.#options.eventSchema)
    } catch (err) {
      return err as AuditValidationError
    }
    return undefined
  }

  // The tick's run, written out at the end of the tick unless it fills first. Once per tick, not per event.
  #openEventRun (): EventRun {
    process.nextTick(this.#writeRun)
    return this.#eventRun = new EventRun()
  }

  // Writes the events admitted to the tick's run as one chunk. Called once per
  // tick, when the run reaches batchSize, and before anything else enters the
  // stream, so record() and write() keep their order.
  readonly #writeRun = (): void => {
    const run = this.#eventRun
    if (run === undefined) return
    this.#eventRun = undefined
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
      const run = this.#eventRun ?? this.#openEventRun()
      const error = this.#encode(chunk, run)
      if (error === undefined) {
        this.#ledger.accept()
        if (run.length >= this.#options.batchSize) this.#writeRun()
        return this.#admit()
      }
      chunk = new InvalidEvent(chunk, error)
    }
    // write(null) throws here, as for any stream, counting nothing.
    if (chunk === null) return super.write(chunk)
    this.#writeRun()
    if (!(chunk instanceof InvalidEvent)) {
      // With a callback the event enters the stream in a run of its own, serialized at acceptance
      // like a recorded one (and spooled); an invalid one goes on with why, to be dead-lettered in its place.
      const run = new EventRun()
      const error = this.#encode(chunk, run)
      if (error === undefined) this.#spool?.appendRun(this.#ledger.accepted, run.events, run.sizes)
      chunk = error === undefined ? run : new InvalidEvent(chunk, error)
    }
    // Numbered before the stream takes it: a write from a listener that the stream's own write
    // runs is numbered after this one, in the spool as at the entry.
    this.#ledger.accept()
    const below = cb === undefined ? super.write(chunk) : super.write(chunk, cb)
    return below ? this.#admit() : this.#oweDrain()
  }

  // Whether a producer may keep writing: bufferSize bounds what is pending across every stage
  // (the entry forwards at once, so its own buffer rarely fills), and a full spool pushes back.
  #admit (): boolean {
    if (this.#ledger.pending - this.#unrecovered < this.#options.bufferSize && this.#spool?.full !== true) return true
    return this.#oweDrain()
  }

  // A producer now waits for 'drain'; keep the process up until it comes.
  #oweDrain (): false {
    if (!this.#owesDrain) this.#keepAlive.hold()
    this.#owesDrain = true
    return false
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
    // Ending uncorks the entry: new events must not pass recovered ones still being handed over.
    if (this.#recovering !== undefined && !this.destroyed) {
      void this.#recovering.then(() => this.end(...args))
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
      void this.#keepAlive.during(this.#pipelineDone)
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
    if (this.destroyed) return this.#markers.end?.promise ?? Promise.reject(new StoreClosedError('the store was destroyed: nothing can be flushed'))
    let marker: FlushMarker
    if (this.writableEnded) {
      marker = this.#markers.forEnd(this.#dropped)
    } else {
      this.#writeRun()
      marker = this.#markers.forFlush(this.#dropped)
      // Corked so the marker and everything pending reach _writev together.
      this.cork()
      super.write(marker)
      process.nextTick(() => this.uncork())
    }
    const settled = marker === this.#markers.end ? this.#pipelineDone.then(() => marker.promise) : marker.promise
    // The process stays up for the caller's wait only: a flush that timed out or aborted holds nothing.
    return this.#keepAlive.during(withDeadline(settled, 'flush', timeoutMs, signal))
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
      let settled = false
      // Unsent events go straight to the dead letter once the close timed out; what is still
      // pending once the dead letter has had as long again is counted lost when the store is torn down.
      const timer = new CloseTimer(timeoutMs, () => {
        this.#log.error({ timeoutMs, pending: this.#ledger.pending }, 'close timed out: aborting delivery')
        this.#sink.abortDelivery()
      }, () => {
        this.#log.error({ timeoutMs, pending: this.#ledger.pending }, 'dead letter did not answer: destroying the store')
        this.destroy()
      })
      const settle = (): void => {
        if (settled) return
        settled = true
        timer.clear()
        this.#keepAlive.release()
        const stats = this.stats()
        if (timer.expired) reject(new CloseTimeoutError(timeoutMs, stats))
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
    return storeStats(this.#ledger, { dropped: this.#dropped, invalid: this.#invalid }, this.#sink, this.#spool)
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
    return this.#health.summary({ pending: this.#ledger.pending, bufferSize: this.#options.bufferSize, closing: this.#closing !== undefined || this.destroyed, spoolFailed: this.#spool?.failed === true })
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
    const marker = this.#markers.forEnd(this.#dropped)
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
    this.#markers.failAll(failure)
    this.#maybeDrain()
    this.#batcher.destroy()
    this.#sink.destroy()
    callback(err)
  }

  #maybeDrain (): void {
    if (this.#owesDrain && (this.destroyed || (this.#ledger.pending - this.#unrecovered < this.#options.bufferSize && this.#spool?.full !== true))) {
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

  // Hands the recovered events to the batcher ahead of anything new; then uncorks the entry so that new events follow them.
  async #recover (spool: Spool): Promise<void> {
    // Never done within the constructor: #recovering is set before it is cleared.
    await null
    try {
      await recoverSpooledEvents(spool.recovered, {
        batcher: this.#batcher,
        ledger: this.#ledger,
        log: this.#log,
        stopped: () => this.destroyed,
        handing: (count) => { this.#unrecovered -= count }
      })
    } finally {
      // From now on the spool may unlink the recovered segments.
      spool.replayed()
      this.#unrecovered = 0
      this.#recovering = undefined
      if (!this.destroyed) this.uncork()
      this.#maybeDrain()
    }
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
        this.#rejectInvalid(chunk, this.#entrySeq++).then(resume, (bug: unknown) => {
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
  async #rejectInvalid (invalid: InvalidEvent, seq: number): Promise<void> {
    this.#invalid++
    await deadLetterInvalid(invalid, seq, this, this.#options.deadLetter, this.#ledger, this.#log)
    this.#maybeDrain()
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
