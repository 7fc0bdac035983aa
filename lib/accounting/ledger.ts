/**
 * The ledger: the one owner of the store's event accounting.
 *
 * Every event accepted at the entry gets a sequence number: a plain integer,
 * from 0, in the order events enter the pipeline (a run recorded in one tick
 * gets a contiguous range). Every accepted event later settles exactly once,
 * as written, dead-lettered or lost. Like a write-ahead log's positions, the
 * ledger keeps a floor below which everything is settled and the settled
 * ranges above it. A flush asks it for what happened up to its position: the
 * ledger takes a tally (the outcome counts below a watched position) as its
 * floor passes that position.
 */
import type { Logger } from 'pino'
import type { SeqRanges } from '../batching/seq-ranges.js'

/** How an event settled. @internal */
export type Outcome = 'written' | 'deadLettered' | 'lost'

/** Counts of settled events by outcome. @internal */
export interface SettledCounts {
  written: number
  deadLettered: number
  lost: number
}

interface Segment {
  readonly first: number
  readonly last: number
  readonly outcome: Outcome
}

const zero = (): SettledCounts => ({ written: 0, deadLettered: 0, lost: 0 })

/**
 * Numbers accepted events and records how each settled.
 *
 * `accepted = written + deadLettered + lost + pending` holds at every moment:
 * `pending` is defined as what is accepted and not settled, and a settlement
 * is only counted for a number accepted and not settled before. A second
 * settlement of the same number is refused and logged at error level.
 *
 * @internal
 */
export class Ledger {
  readonly #log: Logger
  // Invariant: sequence numbers 0 .. #next - 1 have been handed out; #next is the accepted count.
  #next = 0
  // Invariant: every number below #floor is settled; #floor itself is not (or equals #next).
  #floor = 0
  // Invariant: #floorCounts counts the outcomes of the numbers below #floor.
  readonly #floorCounts = zero()
  // Invariant: settled ranges above #floor, sorted, disjoint, none starting at #floor.
  #ahead: Segment[] = []
  // Invariant: totals of every settlement counted; written + deadLettered + lost <= #next.
  readonly #totals = zero()
  // Invariant: watched positions still above #floor, ascending; each one's tally is taken as the floor passes it.
  #watched: number[] = []
  // Tallies: for each watched position the floor has reached, the outcome counts of the numbers below it.
  readonly #tallies = new Map<number, SettledCounts>()
  // Batches being delivered in pieces: keptFloor stays at or below each one's first number.
  readonly #holds: number[] = []
  // Invariant: the lowest number ever settled lost that the spool had; Infinity when none.
  #firstLost = Infinity

  /** @param log - where refused settlements and losses are logged */
  constructor (log: Logger) {
    this.#log = log
  }

  /** Events accepted so far; also the next sequence number. */
  get accepted (): number {
    return this.#next
  }

  /** Every sequence number below this one is settled. */
  get floor (): number {
    return this.#floor
  }

  /**
   * Every sequence number below this one is settled as written or
   * dead-lettered (or lost without ever being spooled: an invalid event).
   * The spool keeps it as its floor: an event counted lost was never stored
   * anywhere, so it stays spooled for the next store.
   */
  get keptFloor (): number {
    let floor = Math.min(this.#floor, this.#firstLost)
    for (const seq of this.#holds) floor = Math.min(floor, seq)
    return floor
  }

  /**
   * Keeps {@link Ledger.keptFloor} at or below `seq` until the returned
   * function is called: a lane batch settles in pieces, and the spool must
   * keep all of it until the last piece settles, to resend it whole.
   */
  hold (seq: number): () => void {
    this.#holds.push(seq)
    let held = true
    return () => {
      if (!held) return
      held = false
      this.#holds.splice(this.#holds.indexOf(seq), 1)
    }
  }

  /** Events accepted and not settled yet. */
  get pending (): number {
    return this.#next - this.#totals.written - this.#totals.deadLettered - this.#totals.lost
  }

  /** A fresh copy of the settled counts. */
  settled (): SettledCounts {
    return { ...this.#totals }
  }

  /**
   * Accepts `count` events.
   * @returns the sequence number of the first; the others follow it
   */
  accept (count = 1): number {
    const first = this.#next
    this.#next += count
    return first
  }

  /**
   * Settles the events numbered in `ranges`. Numbers already settled, or
   * never accepted, are refused and logged at error level; the rest settle.
   *
   * @param ranges - see {@link SeqRanges}
   * @param outcome - how they settled
   * @param context - logged with a refusal (a batch id, say)
   * @param spooled - false for events the spool never had (invalid ones): losing them does not hold
   *   {@link Ledger.keptFloor} back, since there is no copy to keep
   * @returns how many events this call settled
   */
  settle (ranges: SeqRanges, outcome: Outcome, context?: Record<string, unknown>, spooled = true): number {
    const pins = outcome === 'lost' && spooled
    let settled = 0
    let refused = 0
    for (let i = 0; i + 1 < ranges.length; i += 2) {
      const first = ranges[i]!
      const last = ranges[i + 1]!
      // The common case: the next range in order, with nothing settled ahead of it.
      if (first === this.#floor && last < this.#next && (this.#ahead.length === 0 || this.#ahead[0]!.first > last)) {
        if (pins && first < this.#firstLost) this.#firstLost = first
        this.#advance(first, last, outcome)
        settled += last - first + 1
        continue
      }
      let free = 0
      for (const [from, to] of [...this.#unsettledIn(first, last)]) {
        if (pins && from < this.#firstLost) this.#firstLost = from
        this.#insert({ first: from, last: to, outcome })
        free += to - from + 1
      }
      settled += free
      refused += last - first + 1 - free
    }
    this.#totals[outcome] += settled
    if (refused > 0) this.#log.error({ ...context, outcome, count: refused }, 'settlement refused: events already settled')
    return settled
  }

  /**
   * Settles as lost every event up to `upTo` (inclusive) that is not settled
   * yet, and logs them at error level with `reason`.
   * @returns how many were settled
   */
  settleUnsettled (upTo: number, reason: string): number {
    const last = Math.min(upTo, this.#next - 1)
    if (last < this.#floor) return 0
    const gaps = [...this.#unsettledIn(this.#floor, last)]
    let count = 0
    for (const [from, to] of gaps) {
      if (from < this.#firstLost) this.#firstLost = from
      this.#insert({ first: from, last: to, outcome: 'lost' })
      count += to - from + 1
    }
    this.#totals.lost += count
    if (count > 0) this.#log.error({ count, reason }, 'events counted lost')
    return count
  }

  /**
   * Asks for the tally at `position` (the outcome counts of the numbers
   * below it) to be taken once every event below it has settled. A flush
   * marks its end this way.
   */
  watch (position: number): void {
    if (position <= this.#floor) {
      if (!this.#tallies.has(position)) this.#tallies.set(position, this.#tallyAtFloor(position))
      return
    }
    if (this.#watched.at(-1) !== position) this.#watched.push(position)
    if (this.#watched.length > 1 && this.#watched.at(-2)! > position) this.#watched.sort((a, b) => a - b)
  }

  /**
   * The outcome counts of the events numbered `from` to `to - 1`: both positions
   * watched and every event below `to` settled. Forgets the tally at `from`.
   * @returns the counts, or undefined when an event below `to` is unsettled
   */
  between (from: number, to: number): SettledCounts | undefined {
    const upper = this.#tallies.get(to)
    const lower = from === 0 ? zero() : this.#tallies.get(from)
    if (upper === undefined || lower === undefined) return undefined
    if (from !== to) this.#tallies.delete(from)
    return {
      written: upper.written - lower.written,
      deadLettered: upper.deadLettered - lower.deadLettered,
      lost: upper.lost - lower.lost
    }
  }

  // Only reachable before the floor passes a position: then the floor's own counts are its tally.
  #tallyAtFloor (position: number): SettledCounts {
    if (position === this.#floor) return { ...this.#floorCounts }
    throw new Error(`position ${position} is below the floor ${this.#floor} and was not watched`)
  }

  // The unsettled sub-ranges of [first, last], clipped to what was accepted.
  * #unsettledIn (first: number, last: number): Generator<[number, number]> {
    let from = Math.max(first, this.#floor)
    const to = Math.min(last, this.#next - 1)
    const ahead = this.#ahead
    for (let i = this.#firstEndingAtOrAfter(from); i < ahead.length; i++) {
      const segment = ahead[i]!
      if (from > to) return
      if (segment.first > to) break
      if (segment.first > from) yield [from, segment.first - 1]
      from = segment.last + 1
    }
    if (from <= to) yield [from, to]
  }

  // The index of the first segment ahead whose last number is at or above `seq` (binary search).
  #firstEndingAtOrAfter (seq: number): number {
    let lo = 0
    let hi = this.#ahead.length
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (this.#ahead[mid]!.last < seq) lo = mid + 1
      else hi = mid
    }
    return lo
  }

  // Keeps #ahead sorted and as short as it can be: a segment touching a neighbour of the same
  // outcome merges with it. With lanes, batches settle interleaved numbers, one range per event.
  #insert (segment: Segment): void {
    if (segment.first === this.#floor) {
      this.#advance(segment.first, segment.last, segment.outcome)
      return
    }
    const ahead = this.#ahead
    const i = this.#firstEndingAtOrAfter(segment.first)
    const before = i > 0 ? ahead[i - 1] : undefined
    const after = ahead[i]
    const joinsBefore = before !== undefined && before.last + 1 === segment.first && before.outcome === segment.outcome
    const joinsAfter = after !== undefined && after.first === segment.last + 1 && after.outcome === segment.outcome
    if (joinsBefore && joinsAfter) ahead.splice(i - 1, 2, { first: before.first, last: after.last, outcome: segment.outcome })
    else if (joinsBefore) ahead[i - 1] = { first: before.first, last: segment.last, outcome: segment.outcome }
    else if (joinsAfter) ahead[i] = { first: segment.first, last: after.last, outcome: segment.outcome }
    else ahead.splice(i, 0, segment)
  }

  // Moves the floor past [first, last] (first === #floor), then past settled segments that now touch it.
  #advance (first: number, last: number, outcome: Outcome): void {
    this.#pass(first, last, outcome)
    while (this.#ahead.length > 0 && this.#ahead[0]!.first === this.#floor) {
      const next = this.#ahead.shift()!
      this.#pass(next.first, next.last, next.outcome)
    }
  }

  #pass (first: number, last: number, outcome: Outcome): void {
    // Watched positions in (first, last + 1] get their tallies: the counts of the numbers below them.
    while (this.#watched.length > 0 && this.#watched[0]! <= last + 1) {
      const position = this.#watched.shift()!
      const tally = { ...this.#floorCounts }
      tally[outcome] += position - first
      this.#tallies.set(position, tally)
    }
    this.#floorCounts[outcome] += last - first + 1
    this.#floor = last + 1
  }
}
