/**
 * The producer state of a spool with lanes: which producer the directory
 * belongs to, and where its lanes stand as of the cut records already
 * written. C0 of the floor job writes the lane heads to the `lanes` file
 * before C4 may unlink the segment holding a lane's last cut (see the order
 * of operations at the top of lib/spool/spool.ts; the file formats are in
 * lib/spool/producer.ts).
 * @internal
 */
import { join } from 'node:path'
import type { LaneHead } from '../lanes/lane-chains.js'
import { encodeLanes, LANES_FILE, LANES_TEMP_FILE, mergeHeads, PRODUCER_FILE, producerIdOf, readLanes, toLaneHeads, type LaneHeads } from './producer.js'
import type { RecoveredSpool } from './recovery.js'
import { ignoreMissing, type SpoolFiles } from './spool-files.js'

/** A lane batch's cut, appended and not yet known written. @internal */
export interface PendingCut {
  /** The ticket of its frame (see lib/spool/writer.ts). */
  readonly ticket: number
  readonly lane: number
  /** The lane seq of its last event. */
  readonly seq: number
  /** h_seq in hex. */
  readonly head: string
}

/** @internal */
export class ProducerState {
  readonly #dir: string
  readonly #files: SpoolFiles
  // The producer the directory belongs to, once a store with lanes asked for it.
  #producerId: string | undefined
  // Invariant: each lane's highest head among the lanes file, the recovered cut records and the
  // cuts written since; #moved is set when one moved after the lanes file was last written.
  #heads: LaneHeads = new Map()
  #moved = false
  /**
   * Lane cuts appended and not yet known written, in ticket order. The spool
   * pushes each one as it appends its cut: a field rather than a method, so
   * that a batch's path gains no call.
   */
  readonly cuts: PendingCut[] = []

  constructor (dir: string, files: SpoolFiles) {
    this.#dir = dir
    this.#files = files
  }

  /** The directory's producer id, once {@link ProducerState.producerIdFor} gave it. */
  get producerId (): string | undefined {
    return this.#producerId
  }

  /**
   * The directory's producer id, written on first use (see lib/spool/producer.ts).
   * @throws an InvalidOptionError when `wanted` is not the id it holds; the file system's error when it cannot be read or written
   */
  producerIdFor (wanted: string | undefined): string {
    this.#producerId ??= producerIdOf(this.#dir, wanted)
    return this.#producerId
  }

  /** Where the producer's lanes stand: the lanes file and the cut records recovered, the higher of them. */
  laneHeads (producerId: string, lanes: number, recovered: RecoveredSpool): Map<number, LaneHead> {
    this.#heads = mergeHeads(readLanes(this.#dir, producerId), recovered.laneHeads.get(producerId) ?? [])
    return toLaneHeads(this.#heads, lanes)
  }

  /**
   * C0: takes in the heads of the cuts written up to ticket `written` and,
   * when one moved, rewrites the lanes file (temp file, fsync, rename). Runs
   * inside a job, before C4.
   */
  async write (written: number): Promise<void> {
    while (this.cuts.length > 0 && this.cuts[0]!.ticket <= written) {
      const { lane, seq, head } = this.cuts.shift()!
      if ((this.#heads.get(lane)?.seq ?? 0) < seq) {
        this.#heads.set(lane, { seq, head })
        this.#moved = true
      }
    }
    if (this.#moved && this.#producerId !== undefined) {
      const temp = join(this.#dir, LANES_TEMP_FILE)
      await this.#files.writeSynced(temp, encodeLanes(this.#producerId, this.#heads)) // C0
      await this.#files.rename(temp, join(this.#dir, LANES_FILE)) // C0
      this.#moved = false
    }
  }

  /** Unlinks the lanes and producer files, those that exist: the next store is a new producer. */
  async remove (): Promise<void> {
    await this.#files.unlink(join(this.#dir, LANES_FILE)).catch(ignoreMissing)
    await this.#files.unlink(join(this.#dir, PRODUCER_FILE)).catch(ignoreMissing)
  }

  /** Unlinks the temp file a lanes write the disk failed leaves behind, if there is one. */
  removeTemp (): Promise<void> {
    return this.#files.unlink(join(this.#dir, LANES_TEMP_FILE)).catch(ignoreMissing)
  }
}
