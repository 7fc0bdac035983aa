/**
 * A lane's skip notes, posted in the lane's order. A range that settled
 * without being stored (dead-lettered or lost) gets a skip note before the
 * lane moves past it, never a silent gap: posted through the retry policy's
 * attempt loop, like a batch. A skip note that still fails waits in its
 * lane's slot and is posted again before the lane's next batch, one post at
 * a time per lane, oldest first, since the server's lane cannot move past a
 * range without its skip.
 */
import type { Logger } from 'pino'
import type { BatchTrail } from '../batching/batch.js'
import type { DeadLetterReason } from '../dead-letter/dead-letter.js'
import { runAttempts, type RetryTarget } from '../delivery/retry-policy.js'
import type { ResolvedRetryOptions } from '../options/retry.js'
import type { LaneNotes } from './lane-notes.js'
import type { LaneSlot, LaneSlots } from './lane-slots.js'

// A skip note on its way: its text and the range it skips.
interface PendingSkip {
  readonly text: string
  readonly trail: BatchTrail
}

/**
 * Posts the lanes' skip notes, and posts again those that failed.
 * @internal
 */
export class LaneSkips {
  readonly #notes: LaneNotes
  readonly #slots: LaneSlots
  readonly #log: Logger
  // Aborted when delivery stops: no post is attempted after it.
  readonly #signal: AbortSignal
  readonly #attempts: RetryTarget<PendingSkip>

  /**
   * @param notes - signs and posts the notes
   * @param slots - the lanes' open batches, where unposted skip notes wait
   * @param retry - the batches' retry options, used for skip notes too
   * @param signal - aborted when delivery stops
   * @param log - the sink's logger
   */
  constructor (notes: LaneNotes, slots: LaneSlots, retry: ResolvedRetryOptions, signal: AbortSignal, log: Logger) {
    this.#notes = notes
    this.#slots = slots
    this.#signal = signal
    this.#log = log
    this.#attempts = {
      retry,
      signal,
      splittable: false,
      attempt: (skip) => notes.post([skip.text]),
      earlier: (skip) => slots.earlier(skip.trail),
      fillsGap: (skip) => this.fillsGap(skip.trail)
    }
  }

  /**
   * Signs the skip note of `count` events of a lane from `trail.seq` and
   * posts it in the lane's order. One that cannot be posted is kept for the
   * lane's next batch (or dropped, once delivery stopped) and logged.
   * Never rejects.
   *
   * @param batchId - the id of the batch or piece skipped, for the log
   */
  async post (trail: BatchTrail, count: number, reason: DeadLetterReason, batchId: string): Promise<void> {
    const text = this.#notes.skip(trail, count, reason)
    const ended = await runAttempts(this.#attempts, { text, trail })
    if (typeof ended === 'number') return
    this.#notes.postFailed(1)
    if (ended.why === 'aborted') {
      this.#log.warn({ batchId, lane: trail.lane, from: trail.seq, count }, 'skip note not posted: delivery aborted')
      return
    }
    this.#slots.slotOf(trail.lane).unposted.push(text)
    this.#log.error({ batchId, lane: trail.lane, from: trail.seq, count, err: ended.failure.error }, 'skip note not posted: posted again before the lane\'s next batch')
  }

  /**
   * Posts the lane's skip notes that failed before, oldest first, one post
   * at a time per lane.
   * @returns true when none is left unposted
   */
  repost (slot: LaneSlot): Promise<boolean> {
    slot.reposting ??= (async () => {
      try {
        while (slot.unposted.length > 0 && !this.#signal.aborted) {
          await this.#notes.post([slot.unposted[0]!])
          slot.unposted.shift()
          this.#log.info({ left: slot.unposted.length }, 'skip note posted again')
        }
        return slot.unposted.length === 0
      } catch {
        return false
      } finally {
        slot.reposting = undefined
      }
    })()
    return slot.reposting
  }

  /**
   * For a sequence gap with no earlier batch of the lane open: whether the
   * lane's skip notes that failed were what was missing, and are now posted.
   */
  async fillsGap (trail: BatchTrail): Promise<boolean> {
    const slot = this.#slots.find(trail.lane)
    return slot !== undefined && slot.unposted.length > 0 && await this.repost(slot)
  }
}
