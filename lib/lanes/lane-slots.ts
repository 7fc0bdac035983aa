/**
 * The sink's side of the lanes: how many batches of each lane are in flight,
 * and which are open (accepted and not settled yet). A batch refused for a
 * sequence gap waits for the open batches of its lane that end before it.
 *
 * Invariants, per lane: `inFlight <= perLane`; a freed slot passes straight
 * to the batch waiting longest, so a lane's batches start in the order they
 * were cut; `open` holds every batch between {@link LaneSlots.enter} and
 * {@link LaneSlots.leave}, in seq order. A lane's slot is made by its first
 * batch and kept.
 */
import type { BatchTrail } from '../batching/batch.js'

/** One lane's batches in the sink. @internal */
export interface LaneSlot {
  // Batches of the lane holding a slot; at most the lane's bound.
  inFlight: number
  // Batches waiting for a free slot of the lane, in cut order.
  readonly queue: Array<() => void>
  // Every batch of the lane entered and not left, in seq order.
  readonly open: LaneTurn[]
  // The lane's skip notes whose post failed, oldest first; lane-skips.ts posts them again
  // before the lane's next batch, since the server's lane cannot move past a range without its skip.
  readonly unposted: string[]
  // Set while the unposted skip notes are being posted again.
  reposting: Promise<boolean> | undefined
}

/** One batch's place in its lane, from {@link LaneSlots.enter} to {@link LaneSlots.leave}. @internal */
export interface LaneTurn {
  readonly slot: LaneSlot
  /** The batch's first and last lane seq. */
  readonly seq: number
  readonly last: number
  /** Resolves when the batch leaves. */
  readonly settled: Promise<void>
  readonly settle: () => void
  /** Resolves once the batch holds a slot; undefined when it got one at once. */
  readonly ready: Promise<void> | undefined
}

/**
 * The lanes' slots: at most `perLane` batches of a lane in flight, given out
 * in cut order.
 * @internal
 */
export class LaneSlots {
  readonly #perLane: number
  readonly #slots = new Map<number, LaneSlot>()

  /** @param perLane - batches of one lane in flight at most, >= 1 */
  constructor (perLane: number) {
    this.#perLane = perLane
  }

  /**
   * Opens a batch of `count` events in its lane and takes a slot for it, or
   * queues it behind the lane's waiting batches. Call in cut order.
   */
  enter (trail: BatchTrail, count: number): LaneTurn {
    const slot = this.slotOf(trail.lane)
    let settle!: () => void
    const settled = new Promise<void>((resolve) => { settle = resolve })
    // In cut order: a batch waits behind any already waiting, and a slot passes straight to the next.
    let ready: Promise<void> | undefined
    if (slot.inFlight >= this.#perLane || slot.queue.length > 0) ready = new Promise<void>((resolve) => slot.queue.push(resolve))
    else slot.inFlight++
    const turn: LaneTurn = { slot, seq: trail.seq, last: trail.seq + count - 1, settled, settle, ready }
    slot.open.push(turn)
    return turn
  }

  /** Closes a settled batch and passes its slot to the lane's next waiting batch. */
  leave (turn: LaneTurn): void {
    const slot = turn.slot
    slot.open.splice(slot.open.indexOf(turn), 1)
    turn.settle()
    const next = slot.queue.shift()
    if (next === undefined) slot.inFlight--
    else next()
  }

  /** The settlements of the open batches of the lane that end before `trail.seq`: what a sequence gap waits for. */
  earlier (trail: BatchTrail): Array<Promise<void>> {
    return (this.#slots.get(trail.lane)?.open ?? []).filter((e) => e.last < trail.seq).map((e) => e.settled)
  }

  /** The lane's slot, made when the lane has none yet. */
  slotOf (lane: number): LaneSlot {
    let slot = this.#slots.get(lane)
    if (slot === undefined) this.#slots.set(lane, slot = { inFlight: 0, queue: [], open: [], unposted: [], reposting: undefined })
    return slot
  }

  /** The lane's slot, when one of its batches came through. */
  find (lane: number): LaneSlot | undefined {
    return this.#slots.get(lane)
  }
}
