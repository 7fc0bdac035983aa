/**
 * The test suite's one sink: a stand-in for the DataStorage service whose
 * every attempt is answered by a script, then by a fallback (a fixed answer,
 * or a function of the batch that may keep state as a server would), and
 * which keeps what it was sent.
 *
 * One attempt, in order:
 *   1. it is appended to `attempts`, takes the next answer of `script` (so
 *      the script is consumed in the order attempts start, whatever their
 *      delays), and counts as sending;
 *   2. it waits while the sink is `held`;
 *   3. it waits `delayMs` (one turn of the event loop unless set; none at 0);
 *   4. without a script answer, the fallback decides it;
 *   5. `'ok'` appends the batch to `stored` and `storedBatches`; anything else
 *      throws, hangs or never settles (see {@link Answer}).
 * Nothing is awaited that the options do not ask for: with `delayMs: 0` and
 * a synchronous fallback, an attempt settles within the call.
 *
 * Trail notes are kept nowhere by default, as BatchSink's own `sendNotes`
 * does; `notes` answers each post like an attempt (`'ok'` keeps them).
 */
import { setImmediate as nextTurn, setTimeout as sleep } from 'node:timers/promises'
import { BatchSink, SinkError, type Batch, type BatchSinkOptions, type NotesContext, type SendContext } from '../../lib/index.js'

/**
 * How an attempt ends:
 * - `'ok'`: stored;
 * - `'retryable'`: a 503 SinkError, `'rejected'`: a non-retryable 400 SinkError;
 * - an Error: thrown as it is (a SinkError with any flags, status or problem
 *   document; any other error counts as retryable);
 * - `'hang'`: no answer until the store aborts its sends (a close timeout or
 *   destroy), then an error;
 * - `'never'`: no answer at all, not even to an abort.
 */
export type Answer = 'ok' | 'retryable' | 'rejected' | 'hang' | 'never' | Error

/** Decides an attempt from its batch, after the attempt's waits. */
export type Decide = (batch: Batch, ctx: SendContext) => Answer | Promise<Answer>

/** How a post of trail notes ends: an {@link Answer}, or `'none'`, a destination that keeps no notes. */
export type NotesAnswer = Answer | 'none'

/** Decides a post of trail notes. */
export type DecideNotes = (notes: readonly string[], ctx: NotesContext) => NotesAnswer | Promise<NotesAnswer>

/** One attempt, as the sink saw it start. */
export interface Attempt {
  readonly id: string
  /** Events in the batch. */
  readonly count: number
  /** The attempt's number, from 1. */
  readonly attempt: number
  /** `performance.now()` when it started. */
  readonly at: number
  /** The batch's lane; undefined without lanes. */
  readonly lane: number | undefined
}

export interface ScriptedSinkOptions extends BatchSinkOptions {
  /**
   * Answers every attempt once the script is used up.
   * @default 'ok'
   */
  readonly fallback?: Answer | Decide
  /**
   * How long each attempt takes before its answer, in ms; 0 waits not at all.
   * @default one turn of the event loop
   */
  readonly delayMs?: number
  /**
   * Answers every post of trail notes.
   * @default 'none'
   */
  readonly notes?: NotesAnswer | DecideNotes
}

export class ScriptedSink extends BatchSink {
  /** Answers of the next attempts, first one first; a test may push more at any time. */
  readonly script: Answer[]
  /** Every attempt, in the order they started. */
  readonly attempts: Attempt[] = []
  /** Every stored event's JSON text, in the order stored. */
  readonly stored: string[] = []
  /** Every stored batch, in the order stored. */
  readonly storedBatches: Batch[] = []
  /** Every note text of a post answered `'ok'`, in order. */
  readonly notes: string[] = []
  /** The most attempts of one lane ever sending at once, by lane. */
  readonly peakSendingByLane = new Map<number, number>()
  // Invariant: attempts started and not settled, in all and by lane; #peak is the most #sending ever was.
  #sending = 0
  #peak = 0
  readonly #sendingByLane = new Map<number, number>()
  readonly #fallback: Answer | Decide
  readonly #delayMs: number | undefined
  readonly #notes: NotesAnswer | DecideNotes
  // Set while held: every attempt waits on it before its delay; resolved when let go.
  #hold: { readonly promise: Promise<void>, readonly resolve: () => void } | undefined

  /**
   * @param script - the answers of the first attempts, in order
   * @param options - the fallback, the delay, the notes' answer, and the BatchSink options;
   *   retries back off 1 to 5 ms unless `retry` says otherwise
   */
  constructor (script: readonly Answer[] = [], options: ScriptedSinkOptions = {}) {
    super({ retry: { baseDelayMs: 1, maxDelayMs: 5, ...options.retry }, ...(options.logger ? { logger: options.logger } : {}), ...(options.concurrency ? { concurrency: options.concurrency } : {}) })
    this.script = [...script]
    this.#fallback = options.fallback ?? 'ok'
    this.#delayMs = options.delayMs
    this.#notes = options.notes ?? 'none'
  }

  /** The most attempts ever sending at once. */
  get peakSending (): number {
    return this.#peak
  }

  /** While true, every attempt waits before answering; setting it false lets them all go on. */
  get held (): boolean {
    return this.#hold !== undefined
  }

  set held (on: boolean) {
    if (on) {
      if (this.#hold === undefined) {
        let resolve!: () => void
        const promise = new Promise<void>((r) => { resolve = r })
        this.#hold = { promise, resolve }
      }
    } else {
      this.#hold?.resolve()
      this.#hold = undefined
    }
  }

  protected async sendBatch (batch: Batch, ctx: SendContext): Promise<void> {
    const lane = batch.trail?.lane
    this.attempts.push({ id: batch.id, count: batch.events.length, attempt: ctx.attempt, at: performance.now(), lane })
    const scripted = this.script.shift()
    this.#started(lane)
    try {
      if (this.#hold !== undefined) await this.#hold.promise
      if (this.#delayMs === undefined) await nextTurn()
      else if (this.#delayMs > 0) await sleep(this.#delayMs)
      let answer = scripted ?? (typeof this.#fallback === 'function' ? this.#fallback(batch, ctx) : this.#fallback)
      if (answer instanceof Promise) answer = await answer
      if (answer !== 'ok') await fail(answer, ctx.signal)
      this.stored.push(...batch.events)
      this.storedBatches.push(batch)
    } finally {
      this.#ended(lane)
    }
  }

  protected override async sendNotes (notes: readonly string[], ctx: NotesContext): Promise<boolean> {
    let answer = typeof this.#notes === 'function' ? this.#notes(notes, ctx) : this.#notes
    if (answer instanceof Promise) answer = await answer
    if (answer === 'none') return false
    if (answer !== 'ok') await fail(answer, ctx.signal)
    this.notes.push(...notes)
    return true
  }

  #started (lane: number | undefined): void {
    this.#sending++
    this.#peak = Math.max(this.#peak, this.#sending)
    if (lane === undefined) return
    const sending = (this.#sendingByLane.get(lane) ?? 0) + 1
    this.#sendingByLane.set(lane, sending)
    this.peakSendingByLane.set(lane, Math.max(this.peakSendingByLane.get(lane) ?? 0, sending))
  }

  #ended (lane: number | undefined): void {
    this.#sending--
    if (lane !== undefined) this.#sendingByLane.set(lane, this.#sendingByLane.get(lane)! - 1)
  }
}

// Ends an attempt or a post the way a failing answer says: throws, or waits (for the abort, or forever).
async function fail (answer: Exclude<Answer, 'ok'>, signal: AbortSignal): Promise<never> {
  if (answer === 'hang') {
    // An abort that came during the attempt's waits, before this listener, still ends it.
    await new Promise((_resolve, reject) => {
      if (signal.aborted) reject(new Error('aborted'))
      else signal.addEventListener('abort', () => reject(new Error('aborted')), { once: true })
    })
  }
  if (answer === 'never') await new Promise(() => {})
  if (answer === 'retryable') throw new SinkError('HTTP 503 Service Unavailable', { retryable: true, statusCode: 503 })
  if (answer === 'rejected') throw new SinkError('HTTP 400 Bad Request', { retryable: false, statusCode: 400 })
  throw answer
}
