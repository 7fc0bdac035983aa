/**
 * The batcher: serialized events in, batches out, flush markers passed through
 * right behind the partial batch they close.
 */
import { Transform } from 'readable-stream'

type TransformCallback = (error?: Error | null, data?: unknown) => void
import { createBatch, type Batch } from './batch.js'
import { EventRun } from './event-run.js'
import { FlushMarker } from './flush-marker.js'

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
}

/**
 * A batch cut before a crash and read back from the spool: passed through
 * as it is, with the same id and the same events, behind the partial batch.
 * @internal
 */
export class ReplayedBatch {
  constructor (readonly batch: Batch) {}
}

// Brackets of the JSON array body; each event after the first adds a comma.
const EMPTY_BODY_BYTES = 2

/**
 * Emits a batch when it reaches `batchSize` events, when the next event
 * would push it past `maxBatchBytes`, or `flushIntervalMs` after its first
 * event. One timer per batch, not restarted by later events, so a steady
 * trickle cannot starve a batch. On a flush marker it emits the partial batch
 * and then the marker; on end, the partial batch.
 *
 * @internal
 */
export class BatchTransform extends Transform {
  readonly #batchSize: number
  readonly #maxBatchBytes: number
  readonly #flushIntervalMs: number
  // Invariant: #bytes is the body size of #events as a JSON array.
  #events: string[] = []
  #sizes: number[] = []
  #bytes = EMPTY_BODY_BYTES
  // Invariant: the sequence numbers of #events as ranges (see SeqRanges); gaps come from invalid events.
  #seqs: number[] = []
  // Invariant: set exactly while #events is non-empty.
  #timer: NodeJS.Timeout | undefined
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
  }

  override _transform (chunk: EventRun | FlushMarker | ReplayedBatch, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (chunk instanceof EventRun) {
      const { events, sizes, firstSeq } = chunk
      for (let i = 0; i < events.length; i++) this.#add(events[i]!, sizes[i]!, firstSeq + i)
    }
    else if (chunk instanceof FlushMarker) {
      this.#emit()
      this.#push(chunk)
    } else if (chunk instanceof ReplayedBatch) {
      this.#emit()
      this.#push(chunk.batch)
    }
    this.#afterGate(callback)
  }

  override _flush (callback: TransformCallback): void {
    this.#emit()
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
    this.#clearTimer()
    callback(err)
  }

  #add (json: string, bytes: number, seq: number): void {
    // Each event after the first adds a comma to the body.
    if (this.#events.length > 0 && this.#bytes + 1 + bytes > this.#maxBatchBytes) this.#emit()
    this.#bytes += (this.#events.length === 0 ? 0 : 1) + bytes
    this.#events.push(json)
    this.#sizes.push(bytes)
    const seqs = this.#seqs
    if (seqs.length > 0 && seqs[seqs.length - 1] === seq - 1) seqs[seqs.length - 1] = seq
    else seqs.push(seq, seq)
    if (this.#events.length === 1) {
      this.#timer = setTimeout(this.#onTimer, this.#flushIntervalMs)
      this.#timer.unref()
    }
    if (this.#events.length >= this.#batchSize) this.#emit()
  }

  readonly #onTimer = (): void => {
    this.#timer = undefined
    if (!this.destroyed) this.#emit()
  }

  #emit (): void {
    if (this.#events.length === 0) return
    this.#clearTimer()
    const batch = createBatch(this.#events, this.#sizes, this.#bytes, this.#seqs)
    this.#events = []
    this.#sizes = []
    this.#seqs = []
    this.#bytes = EMPTY_BODY_BYTES
    this.#push(batch, this.#onCut?.(batch))
  }

  #clearTimer (): void {
    if (this.#timer !== undefined) {
      clearTimeout(this.#timer)
      this.#timer = undefined
    }
  }
}
