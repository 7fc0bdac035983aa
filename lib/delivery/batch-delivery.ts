/**
 * Delivering one batch until it is settled, for the sink. The retry policy
 * attempts it; a success settles it as written and emits `'batch'`; a
 * refusal with a split cuts it (poison isolation) and delivers or
 * dead-letters each piece in order; anything else given up goes through the
 * dead-letter hand-off, which settles it and emits `'dead-letter'`. With
 * lanes, a batch first waits for a slot of its lane, and a range given up
 * gets its skip note before it is settled.
 *
 * Invariants: {@link BatchDelivery.deliver} never rejects; each event of a
 * batch is settled in the ledger once, by this module or the hand-off; the
 * counters change only here.
 */
import { performance } from 'node:perf_hooks'
import type { Logger } from 'pino'
import type { Ledger } from '../accounting/ledger.js'
import type { Batch, BatchTrail } from '../batching/batch.js'
import type { DeadLetter, DeadLetterReason } from '../dead-letter/dead-letter.js'
import { deadLetterEvents } from '../dead-letter/hand-off.js'
import { InvalidOptionError } from '../errors.js'
import { LaneNotes, type PostLaneNotes } from '../lanes/lane-notes.js'
import { LaneSkips } from '../lanes/lane-skips.js'
import { LaneSlots } from '../lanes/lane-slots.js'
import type { ResolvedRetryOptions } from '../options/retry.js'
import type { ResolvedTrailOptions } from '../options/trail.js'
import { isolateRefused } from './poison-isolation.js'
import { runAttempts, type Failure, type RetryTarget } from './retry-policy.js'
import type { BatchEventInfo, DeadLetterEventInfo, RetryEventInfo } from './sink-events.js'

/** A sink's counts of batches and attempts (events are counted by the ledger). @internal */
export interface SinkCounters {
  retries: number
  batches: number
}

/** What a delivery needs from the store its sink is attached to. @internal */
export interface DeliveryAttachment {
  readonly ledger: Ledger
  readonly deadLetter: DeadLetter | undefined
  readonly log: Logger
  /** With lanes: the in-flight bound per lane, the trail options, and how notes are posted. */
  readonly lanes: { readonly perLane: number, readonly trail: ResolvedTrailOptions, readonly postNotes: PostLaneNotes } | undefined
}

// With lanes: each lane's slots and open batches, its notes (skips, checkpoints) and its skip posts.
interface DeliveryLanes {
  readonly slots: LaneSlots
  readonly notes: LaneNotes
  readonly skips: LaneSkips
}

/**
 * Delivers the sink's batches to their settlement.
 * @internal
 */
export class BatchDelivery {
  // The sink: its events go through its guarded emit.
  readonly #emitter: { emit (event: string, info: unknown): boolean }
  readonly #retry: ResolvedRetryOptions
  // The sink's shutdown: aborted, attempts stop and what is left is dead-lettered as `shutdown`.
  readonly #signal: AbortSignal
  // How a batch is attempted; made once, so that delivering a batch makes no closure.
  readonly #attempts: RetryTarget<Batch>
  #log: Logger
  // Set by attach(): every settlement is recorded here, once.
  #ledger: Ledger | undefined
  #deadLetter: DeadLetter | undefined
  #lanes: DeliveryLanes | undefined
  readonly #counters: SinkCounters = { retries: 0, batches: 0 }

  /**
   * @param emitter - the sink
   * @param retry - the sink's retry options
   * @param signal - the sink's shutdown
   * @param attempt - one attempt of a batch: the sink's `sendBatch`
   * @param log - the sink's logger until attached
   */
  constructor (emitter: { emit (event: string, info: unknown): boolean }, retry: ResolvedRetryOptions, signal: AbortSignal, attempt: (batch: Batch, attempt: number) => Promise<void>, log: Logger) {
    this.#emitter = emitter
    this.#retry = retry
    this.#signal = signal
    this.#log = log
    this.#attempts = {
      retry,
      signal,
      splittable: true,
      attempt,
      earlier: (batch) => batch.trail === undefined || this.#lanes === undefined ? [] : this.#lanes.slots.earlier(batch.trail),
      fillsGap: (batch) => batch.trail === undefined || this.#lanes === undefined ? undefined : this.#lanes.skips.fillsGap(batch.trail),
      retrying: (batch, failure, attempt, delayMs) => this.#retrying(batch, failure, attempt, delayMs)
    }
  }

  /** Connects delivery to the store's ledger, dead letter and logger, and with lanes sets them up. */
  attach (attachment: DeliveryAttachment): void {
    this.#ledger = attachment.ledger
    this.#deadLetter = attachment.deadLetter
    this.#log = attachment.log
    const lanes = attachment.lanes
    if (lanes === undefined) return
    const slots = new LaneSlots(lanes.perLane)
    const notes = new LaneNotes(lanes.trail, this.#log, lanes.postNotes)
    this.#lanes = { slots, notes, skips: new LaneSkips(notes, slots, this.#retry, this.#signal, this.#log) }
  }

  /** The lanes' notes, with lanes. */
  get notes (): LaneNotes | undefined {
    return this.#lanes?.notes
  }

  /** The counts so far, as a fresh object. */
  counters (): SinkCounters {
    return { ...this.#counters }
  }

  /**
   * Delivers a batch of a lane in the lane's order: waits for a slot of its
   * lane, is delivered, then lets the lane's next batch go. Call in cut
   * order, with lanes only. Never rejects.
   */
  async deliverInLane (batch: Batch, trail: BatchTrail): Promise<void> {
    const lanes = this.#lanes!
    const turn = lanes.slots.enter(trail, batch.events.length)
    lanes.notes.accepted(trail)
    if (turn.ready !== undefined) await turn.ready
    const release = this.#attachedLedger().hold(batch.firstSeq)
    try {
      // The lane's skip notes that failed go first: the server's lane cannot move past a range without its skip.
      if (turn.slot.unposted.length > 0) await lanes.skips.repost(turn.slot)
      await this.deliver(batch, 0)
    } finally {
      release()
      lanes.slots.leave(turn)
    }
  }

  /**
   * Delivers a batch, or a piece of a refused one `depth` halvings deep,
   * and settles each of its events as written, dead-lettered or lost.
   * Never rejects.
   */
  async deliver (batch: Batch, depth: number): Promise<void> {
    const started = performance.now()
    const ended = await runAttempts(this.#attempts, batch)
    if (typeof ended !== 'number') {
      if (ended.why === 'aborted') {
        const reason: unknown = this.#signal.reason
        return this.#giveUp(batch, 'shutdown', ended.attempts, reason instanceof Error ? reason : new Error('delivery aborted'))
      }
      const failure = ended.failure
      if (ended.why === 'exhausted') return this.#giveUp(batch, 'exhausted', ended.attempts, failure.error)
      if (failure.split && batch.events.length > 1) return this.#isolate(batch, depth, ended.attempts, failure)
      return this.#giveUp(batch, 'rejected', ended.attempts, failure.error)
    }
    const count = batch.events.length
    if (batch.trail !== undefined) this.#lanes?.notes.settled(batch.trail, count)
    if (this.#attachedLedger().settle(batch.seqs, 'written', { batchId: batch.id }) === 0) return
    this.#counters.batches++
    const durationMs = performance.now() - started
    if (this.#log.isLevelEnabled('debug')) this.#log.debug({ batchId: batch.id, count, bytes: batch.bytes, attempt: ended, durationMs }, 'batch written')
    this.#emitter.emit('batch', { id: batch.id, count, bytes: batch.bytes, attempts: ended, durationMs } satisfies BatchEventInfo)
  }

  #attachedLedger (): Ledger {
    if (this.#ledger === undefined) throw new InvalidOptionError('sink', 'a sink attached to a store', 'a sink used on its own')
    return this.#ledger
  }

  // An attempt failed and another follows after `delayMs`.
  #retrying (batch: Batch, failure: Failure, attempt: number, delayMs: number): void {
    this.#counters.retries++
    this.#log.warn({ batchId: batch.id, count: batch.events.length, attempt, delayMs, statusCode: failure.statusCode, err: failure.error }, 'batch send failed')
    this.#emitter.emit('retry', { batchId: batch.id, count: batch.events.length, attempt, delayMs, statusCode: failure.statusCode, error: failure.error } satisfies RetryEventInfo)
  }

  // A refused batch of two events or more, cut by poison isolation: each piece resent or dead-lettered, in order.
  async #isolate (batch: Batch, depth: number, attempts: number, failure: Failure): Promise<void> {
    const isolation = isolateRefused(batch, depth, failure.error)
    if (isolation === undefined) return this.#giveUp(batch, 'rejected', attempts, failure.error)
    const count = batch.events.length
    if (isolation.named) this.#log.warn({ batchId: batch.id, count, refused: isolation.refused, statusCode: failure.statusCode }, 'batch split on field errors')
    else this.#log.warn({ batchId: batch.id, count, depth, statusCode: failure.statusCode }, 'batch split after rejection')
    for (const piece of isolation.pieces) {
      if (piece.refused) await this.#giveUp(piece.batch, 'rejected', attempts, failure.error)
      else await this.deliver(piece.batch, depth + 1)
    }
  }

  // Hands a batch to the dead letter. A lane goes on past the range, and says so: a skip note, never a silent gap.
  #giveUp (batch: Batch, reason: DeadLetterReason, attempts: number, error: Error): Promise<void> {
    const trail = batch.trail
    const lanes = this.#lanes
    return deadLetterEvents({
      deadLetter: this.#deadLetter,
      ledger: this.#attachedLedger(),
      log: this.#log,
      reason,
      batchId: batch.id,
      events: batch.events,
      seqs: batch.seqs,
      spooled: true,
      attempts,
      error,
      beforeSettle: trail === undefined || lanes === undefined
        ? undefined
        : async () => {
          await lanes.skips.post(trail, batch.events.length, reason, batch.id)
          lanes.notes.settled(trail, batch.events.length)
        },
      report: (info: DeadLetterEventInfo, settled: boolean) => {
        if (!settled) return
        this.#counters.batches++
        if (info.stored) this.#log.warn({ reason, batchId: batch.id, count: info.count, attempts }, 'batch dead-lettered')
        this.#emitter.emit('dead-letter', info)
      }
    })
  }
}
