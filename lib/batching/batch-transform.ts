/**
 * The batcher: serialized events in, batches out, flush markers passed through
 * right behind the partial batch they close.
 */
import { randomUUID } from 'node:crypto'
import { Transform } from 'readable-stream'
import { bodyBytesWith, createBatch, EMPTY_BODY_BYTES, type Batch } from './batch.js'
import { EventRun } from './event-run.js'
import { FlushMarker } from '../accounting/flush-marker.js'
import { laneOf } from '../lanes/lane-choice.js'
import type { LaneChains } from '../lanes/lane-chains.js'
import { appendSeqs } from './seq-ranges.js'

type TransformCallback = (error?: Error | null, data?: unknown) => void

/** @internal */
export interface BatchTransformOptions {
  readonly batchSize: number
  readonly maxBatchBytes: number
  readonly flushIntervalMs: number
  /**
   * Called with each batch cut; when it returns a promise, the batch (and
   * whatever follows it) is pushed only once that settles. The spool records
   * the cut this way before the sink can send it. Must never reject.
   */
  readonly onCut?: ((batch: Batch) => Promise<void> | undefined) | undefined
  /** The lanes' chains; without, one unordered stream of batches. */
  readonly chains?: LaneChains | undefined
}

/**
 * A batch cut before a crash and recovered from the spool: passed through
 * as it is, with the same id and the same events, behind the partial batch.
 * @internal
 */
export class RecoveredBatch {
  constructor (readonly batch: Batch) {}
}

// The batch being filled for one lane (lane -1 without lanes).
class PartialBatch {
  // Invariant: bytes is the body size of events as a JSON array.
  events: string[] = []
  sizes: number[] = []
  bytes = EMPTY_BODY_BYTES
  // Invariant: the ledger sequence numbers of events as ranges (see SeqRanges); gaps come from
  // invalid events and from events of other lanes.
  seqs: number[] = []
  // Invariant: set exactly while events is non-empty.
  timer: NodeJS.Timeout | undefined

  constructor (readonly lane: number) {}
}

/**
 * Emits a batch when it reaches `batchSize` events, when the next event
 * would push it past `maxBatchBytes`, or `flushIntervalMs` after its first
 * event. One timer per batch, not restarted by later events, so a steady
 * trickle cannot starve a batch. On a flush marker it emits the partial batch
 * and then the marker; on end, the partial batch.
 *
 * With lanes, an event joins the batch of its lane (`laneOf(correlation_id,
 * lanes)`), each lane batched as above; a batch takes its lane seqs and
 * chain hashes when it is cut. A flush marker follows the partial batches of
 * every lane.
 *
 * @internal
 */
export class BatchTransform extends Transform {
  readonly #batchSize: number
  readonly #maxBatchBytes: number
  readonly #flushIntervalMs: number
  readonly #chains: LaneChains | undefined
  // One per lane, or one for all without lanes.
  readonly #partials: PartialBatch[]
  readonly #onCut: BatchTransformOptions['onCut']
  // Invariant: set while a cut waits for onCut; settles once everything emitted so far is pushed.
  #gate: Promise<void> | undefined

  constructor (options: BatchTransformOptions) {
    // The write side holds a few runs (or single stream events), the read side
    // two batches: memory past the entry stays at a few batches.
    super({ objectMode: true, writableHighWaterMark: 4, readableHighWaterMark: 2 })
    this.#batchSize = options.batchSize
    this.#maxBatchBytes = options.maxBatchBytes
    this.#flushIntervalMs = options.flushIntervalMs
    this.#onCut = options.onCut
    this.#chains = options.chains
    this.#partials = this.#chains === undefined ? [new PartialBatch(-1)] : Array.from({ length: this.#chains.lanes }, (_, lane) => new PartialBatch(lane))
  }

  override _transform (chunk: EventRun | FlushMarker | RecoveredBatch, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (chunk instanceof EventRun) {
      const { events, sizes, keys, firstSeq } = chunk
      const chains = this.#chains
      if (chains === undefined) {
        const partial = this.#partials[0]!
        for (let i = 0; i < events.length; i++) this.#add(partial, events[i]!, sizes[i]!, firstSeq + i)
      } else {
        for (let i = 0; i < events.length; i++) this.#add(this.#partials[laneOf(keys[i]!, chains.lanes)]!, events[i]!, sizes[i]!, firstSeq + i)
      }
    } else if (chunk instanceof FlushMarker) {
      this.#emitAll()
      this.#push(chunk)
    } else if (chunk instanceof RecoveredBatch) {
      const trail = chunk.batch.trail
      if (trail !== undefined) {
        // Behind its lane's partial batch only: that one was cut later, by this store.
        this.#emit(this.#partials[trail.lane] ?? this.#partials[0]!)
        this.#chains?.observe(trail)
      } else this.#emitAll()
      this.#push(chunk.batch)
    }
    this.#afterGate(callback)
  }

  override _flush (callback: TransformCallback): void {
    this.#emitAll()
    this.#afterGate(callback)
  }

  // Calls back once what was emitted is pushed, so a waiting cut holds the writer back.
  #afterGate (callback: TransformCallback): void {
    if (this.#gate === undefined) callback()
    else void this.#gate.then(() => callback())
  }

  // Pushes in emission order: behind any cut still waiting.
  #push (chunk: unknown, wait?: Promise<void>): void {
    if (this.#gate === undefined && wait === undefined) {
      this.push(chunk)
      return
    }
    const gate = (this.#gate ?? Promise.resolve()).then(() => wait).then(() => {
      if (!this.destroyed) this.push(chunk)
      if (this.#gate === gate) this.#gate = undefined
    })
    this.#gate = gate
  }

  override _destroy (err: Error | null, callback: (error: Error | null) => void): void {
    for (const partial of this.#partials) this.#clearTimer(partial)
    callback(err)
  }

  #add (p: PartialBatch, json: string, bytes: number, seq: number): void {
    // Each event after the first adds a comma to the body.
    if (p.events.length > 0 && p.bytes + 1 + bytes > this.#maxBatchBytes) this.#emit(p)
    p.bytes = bodyBytesWith(p.bytes, p.events.length, bytes)
    p.events.push(json)
    p.sizes.push(bytes)
    appendSeqs(p.seqs, seq)
    if (p.events.length === 1) {
      p.timer = setTimeout(this.#onTimer, this.#flushIntervalMs, p)
      p.timer.unref()
    }
    if (p.events.length >= this.#batchSize) this.#emit(p)
  }

  readonly #onTimer = (p: PartialBatch): void => {
    p.timer = undefined
    if (!this.destroyed) this.#emit(p)
  }

  #emitAll (): void {
    for (const partial of this.#partials) this.#emit(partial)
  }

  #emit (p: PartialBatch): void {
    if (p.events.length === 0) return
    this.#clearTimer(p)
    const trail = this.#chains?.cut(p.lane, p.events)
    const batch = createBatch(randomUUID(), p.events, p.sizes, p.bytes, p.seqs, trail)
    p.events = []
    p.sizes = []
    p.seqs = []
    p.bytes = EMPTY_BODY_BYTES
    this.#push(batch, this.#onCut?.(batch))
  }

  #clearTimer (p: PartialBatch): void {
    if (p.timer !== undefined) {
      clearTimeout(p.timer)
      p.timer = undefined
    }
  }
}
