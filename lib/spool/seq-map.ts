/**
 * Maps a store's ledger sequence numbers to the spool's own. The ledger
 * numbers from 0 in each store; the spool's numbers grow across restarts.
 * A new store numbers the recovered events first (0 .. count - 1, in spool
 * order), then its own: ledger seq `L >= count` is spool seq `L - count + nextSeq`.
 */

/** @internal */
export class SeqMap {
  // Invariant: the recovered events' spool seqs as ascending inclusive ranges, flattened.
  readonly #ranges: readonly number[]
  // Invariant: #starts[k] is the ledger seq of the first event of range k.
  readonly #starts: number[] = []
  readonly #count: number
  readonly #offset: number

  /**
   * @param ranges - the recovered events' spool seqs
   * @param count - how many they are
   * @param nextSeq - the spool seq of the store's first own event
   */
  constructor (ranges: readonly number[], count: number, nextSeq: number) {
    this.#ranges = ranges
    this.#count = count
    this.#offset = nextSeq - count
    let start = 0
    for (let k = 0; k + 1 < ranges.length; k += 2) {
      this.#starts.push(start)
      start += ranges[k + 1]! - ranges[k]! + 1
    }
  }

  /** The spool seq of ledger seq `seq`; `seq` equal to the ledger's accepted count maps to the next one. */
  toSpool (seq: number): number {
    if (seq >= this.#count) return seq + this.#offset
    let lo = 0
    let hi = this.#starts.length - 1
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1
      if (this.#starts[mid]! <= seq) lo = mid
      else hi = mid - 1
    }
    return this.#ranges[2 * lo]! + seq - this.#starts[lo]!
  }

  /** Ledger seq ranges as spool seq ranges. */
  rangesToSpool (ranges: readonly number[]): number[] {
    const out: number[] = []
    for (let i = 0; i + 1 < ranges.length; i += 2) {
      const first = ranges[i]!
      const last = ranges[i + 1]!
      if (first >= this.#count) {
        push(out, first + this.#offset, last + this.#offset)
        continue
      }
      for (let seq = first; seq <= last; seq++) {
        const s = this.toSpool(seq)
        push(out, s, s)
      }
    }
    return out
  }
}

function push (out: number[], first: number, last: number): void {
  if (out.length > 0 && out.at(-1) === first - 1) out[out.length - 1] = last
  else out.push(first, last)
}
