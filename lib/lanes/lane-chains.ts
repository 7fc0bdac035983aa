/**
 * The producer's side of the lanes: each lane's next seq and the
 * head of its hash chain. A batch takes its lane seqs and hashes when it is
 * cut, so a lane's seqs follow the order its batches are cut in.
 */
import type { BatchTrail } from '../batching/batch.js'
import { GENESIS, chainEvents } from '../chain/chain-hash.js'

/** A lane's last seq and the chain hash there (h_0 = 32 zero bytes). @internal */
export interface LaneHead {
  readonly seq: number
  readonly head: Buffer
}

/**
 * Hands out lane seqs and chains the events of each batch cut.
 * @internal
 */
export class LaneChains {
  readonly producerId: string
  readonly lanes: number
  // Invariant: #heads[lane] is the last seq cut in the lane and h at it.
  readonly #heads: LaneHead[]

  /**
   * @param producerId - the producer's UUID
   * @param lanes - the lane count, >= 1
   * @param recovered - lane heads a spool kept from an earlier store of the same producer
   */
  constructor (producerId: string, lanes: number, recovered?: ReadonlyMap<number, LaneHead>) {
    this.producerId = producerId
    this.lanes = lanes
    this.#heads = Array.from({ length: lanes }, () => ({ seq: 0, head: GENESIS }))
    for (const [lane, head] of recovered ?? []) this.#heads[lane] = head
  }

  /**
   * The trail of the next batch of `lane`: seqs from the lane's next one,
   * each event's hash chained from the lane's head, which moves to the last.
   */
  cut (lane: number, events: readonly string[]): BatchTrail {
    const { seq, head } = this.#heads[lane]!
    const hashes = chainEvents(this.producerId, lane, seq + 1, head, events)
    this.#heads[lane] = { seq: seq + events.length, head: hashes.subarray(hashes.length - 32) }
    return { producerId: this.producerId, lane, seq: seq + 1, prev: head, hashes }
  }

  /** Moves a lane past a batch cut by an earlier store and replayed from its spool. */
  observe (trail: BatchTrail): void {
    const last = trail.seq + trail.hashes.length / 32 - 1
    if (trail.lane < this.lanes && last > this.#heads[trail.lane]!.seq) {
      this.#heads[trail.lane] = { seq: last, head: trail.hashes.subarray(trail.hashes.length - 32) }
    }
  }

  /** Every lane's head, by lane. */
  heads (): readonly LaneHead[] {
    return this.#heads
  }
}
