/**
 * The floor keeper: moves the spool's floor (every spool seq below it is
 * settled) on disk, C1-C3, and only then has the writer unlink the segments
 * it covers, C4 (see the order of operations at the top of
 * lib/spool/spool.ts). A crash before C3 leaves the old floor and every
 * segment; a crash between C4's unlinks leaves segments recovery removes (O4).
 * @internal
 */
import { join } from 'node:path'
import { encodeFloor, FLOOR_FILE, FLOOR_TEMP_FILE } from './floor.js'
import type { SpoolFiles } from './spool-files.js'
import type { SpoolWriter } from './writer.js'

/** @internal */
export class FloorKeeper {
  readonly #dir: string
  readonly #files: SpoolFiles
  readonly #writer: SpoolWriter
  // Invariant: the floor the floor file holds; every spool seq below it is settled.
  #floor: number
  // Invariant: while the store reads recovered events back, segments below this index are
  // recovered ones it may still read: C4 leaves them alone, even once the floor covers every seq
  // they name (a segment holding only batch cuts names seqs delivered before the store gets to
  // it). 0 once the store is done with them.
  #keep: number

  /**
   * @param floor - the floor recovery read
   * @param keep - the index below which segments are kept for the store to read back; 0 for none
   */
  constructor (dir: string, files: SpoolFiles, writer: SpoolWriter, floor: number, keep: number) {
    this.#dir = dir
    this.#files = files
    this.#writer = writer
    this.#floor = floor
    this.#keep = keep
  }

  /** The store has read every recovered segment back (or gave up): C4 may unlink them now. */
  release (): void {
    this.#keep = 0
  }

  /**
   * C1-C3: writes `floor`, when it moved or when `closing` (a last floor
   * before the clean close unlinks everything). Runs inside a job.
   */
  async write (floor: number, closing: boolean): Promise<void> {
    if (floor <= this.#floor && !closing) return
    const temp = join(this.#dir, FLOOR_TEMP_FILE)
    await this.#files.writeSynced(temp, encodeFloor(floor)) // C1
    await this.#files.rename(temp, join(this.#dir, FLOOR_FILE)) // C2
    await this.#files.syncDir(this.#dir) // C3
    this.#floor = floor
  }

  /** C4: unlinks the segments the floor on disk covers. Runs inside a job, after {@link FloorKeeper.write}. */
  unlinkSettled (): Promise<void> {
    return this.#writer.unlinkSettled(this.#floor, this.#keep)
  }

  /** Unlinks the floor file. */
  unlink (): Promise<void> {
    return this.#files.unlink(join(this.#dir, FLOOR_FILE))
  }

  /** Unlinks the temp file a floor write the disk failed leaves behind. */
  unlinkTemp (): Promise<void> {
    return this.#files.unlink(join(this.#dir, FLOOR_TEMP_FILE))
  }
}
