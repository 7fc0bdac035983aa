/**
 * The spool: a durable copy of every event a store accepts, on local disk,
 * until the event is settled. See README "Durability".
 *
 * # Design
 *
 * This file is the facade the store uses: it opens the directory, sequences
 * the jobs and owns the spool's life (open, failed, closed). One module per
 * role does the rest, every file operation through lib/spool/spool-files.ts:
 *
 * - lib/spool/record-format.ts: the frames of a segment (run and batch-cut records);
 * - lib/spool/recovery.ts: O2-O4, what the directory holds when a store opens it;
 * - lib/spool/reader.ts: the recovered events read back for the store;
 * - lib/spool/writer.ts: appends, W1-W2 and R1-R4, and C4's unlinks;
 * - lib/spool/floor-keeper.ts: C1-C3, the floor on disk (lib/spool/floor.ts);
 * - lib/spool/producer-state.ts: C0, the producer and its lane heads (lib/spool/producer.ts);
 * - lib/spool/job-queue.ts: one job at a time, none after a failure or a destroy;
 * - lib/spool/segment-name.ts: segment file names, ordered by number;
 * - lib/spool/seq-map.ts: the store's ledger seqs as the spool's own.
 *
 * The file passes 300 lines by the order of operations below: every role
 * follows it, so it is written once, here, with the steps' labels on the
 * lines that do them.
 *
 * # Order of file operations
 *
 * Opening (synchronous, in the store's constructor):
 *   O1. create `dir` if needed; take `dir/lock` (lib/files/dir-lock.ts, L1-L5: holding
 *       our pid, start time and a token; a lock whose process is gone is stale
 *       and taken over, by one process only).
 *   O2. read the floor file `checkpoint` (the floor F: every spool seq below F is settled).
 *   O3. read each `segment-N.log`, oldest first; at the first frame that is
 *       torn, fails its CRC or does not decode, truncate the file there and
 *       fsync it (the damage is counted once).
 *   O4. unlink each segment whose records all name seqs below F (a crash
 *       came between a floor write and its unlinks).
 *   Writing starts in a new segment (never appended to an old one), so a
 *   recovered segment is only ever read, then unlinked.
 *
 * Appending (the writer; one job at a time, in this order):
 *   W1. at the end of the tick: ONE writev of every frame appended in the
 *       tick (event runs, then batch cuts) to the current segment.
 *       durability 'process': the frames are in the kernel; persisted()
 *       callers whose events are in them resolve now.
 *   W2. durability 'os', when a persisted() caller or a batch cut waits:
 *       ONE fdatasync of the current segment, covering every writev done
 *       before it (group commit); then they resolve.
 *   Roll-over, before a writev that would pass segmentBytes:
 *   R1. ('os') fdatasync the full segment: nothing acknowledged may depend
 *       on a segment whose data is not synced once we move on.
 *   R2. close it.
 *   R3. create `segment-(N+1).log` (O_EXCL).
 *   R4. ('os') fsync `dir`, so the new segment's name survives power loss
 *       before anything acknowledged is written into it.
 *
 * The floor job (a job every checkpointIntervalMs and at close):
 *   C0. with lanes, when a lane's head moved: write `lanes.tmp` with the
 *       heads of every cut record written so far; fsync; rename over `lanes`.
 *       Before C4, so no unlink takes a lane's last head.
 *   C1. write `checkpoint.tmp` with the new floor; fsync it; close it.
 *   C2. rename `checkpoint.tmp` over `checkpoint`.
 *   C3. fsync `dir`: the rename is durable.
 *   C4. only now unlink the segments whose records all name seqs below the
 *       new floor (the current one is closed first; the next writev rolls to
 *       a new one), except recovered segments while the store still reads
 *       them back (it reads a segment only when it gets to it). A crash
 *       before C3 leaves the old floor and every segment; a crash between
 *       C4's unlinks leaves segments O4 removes.
 *
 * Clean close: after the store settled every event, one last floor job
 * (C0-C4, which with nothing pending unlinks every segment, the current one
 * closed first), then `checkpoint`, `lanes` and `producer` are unlinked and
 * the lock released: the directory is empty (the next store is a new producer).
 *
 * A batch is handed to the sink only once its cut record is as durable as
 * the configured level (see BatchTransform's onCut): after a crash, a batch
 * the server may have seen is always resent with the same id and body.
 *
 * Any error of the file layer (ENOSPC, EIO, ...) fails the spool for good:
 * it is logged at error level, every persisted() waiter and later caller
 * gets a SpoolError, and the store keeps delivering from memory.
 */
import { mkdirSync } from 'node:fs'
import type { Logger } from 'pino'
import { InvalidOptionError, SpoolError } from '../errors.js'
import { acquireLock } from '../files/dir-lock.js'
import type { BatchTrail } from '../batching/batch.js'
import type { LaneHead } from '../lanes/lane-chains.js'
import { FloorKeeper } from './floor-keeper.js'
import { JobQueue } from './job-queue.js'
import { ProducerState } from './producer-state.js'
import { encodeBatch, encodeRun } from './record-format.js'
import { recoverSpool, type RecoveredSpool, type SpoolCorruption } from './recovery.js'
import { SeqMap } from './seq-map.js'
import { ignoreMissing } from './spool-files.js'
import { SpoolWriter, type WriterConfig } from './writer.js'

/** The lock's file name in the spool directory. @internal */
export const LOCK_FILE = 'lock'

/** Spool settings, resolved. @internal */
export interface SpoolConfig extends WriterConfig {
  readonly maxBytes: number
  /** How often the floor job runs (the public option's name). */
  readonly checkpointIntervalMs: number
}

/**
 * The spool of one store. Appends are synchronous and buffered; one job
 * runs at a time (see the order of operations above).
 * @internal
 */
export class Spool {
  readonly #config: SpoolConfig
  readonly #log: Logger
  readonly #release: () => void
  readonly #map: SeqMap
  readonly recovered: RecoveredSpool
  readonly #jobs: JobQueue
  readonly #writer: SpoolWriter
  readonly #floorKeeper: FloorKeeper
  readonly #producer: ProducerState
  // Where the settled floor comes from: the store's ledger, below which every event is written
  // or dead-lettered (one counted lost stays spooled, and so does everything after it).
  readonly #ledgerFloor: () => number
  // Invariant: runs the floor job while the spool is open and has not failed; cleared otherwise.
  #timer: NodeJS.Timeout | undefined
  // Invariant: set once, by the first job that throws; appends and waits are refused after it.
  #failure: SpoolError | undefined
  // Invariant: set by close() or abandon(); no job is queued after it but close()'s own.
  #closed = false
  /** Called when the spool drops below maxBytes after being full. */
  onRoom: (() => void) | undefined

  /**
   * Opens (O1-O4) `config.dir`.
   * @throws {@link InvalidOptionError} when another live process holds the directory
   */
  constructor (config: SpoolConfig, log: Logger, ledgerFloor: () => number) {
    this.#config = config
    this.#log = log.child({ component: 'spool' })
    this.#ledgerFloor = ledgerFloor
    // O1: the directory, then its lock.
    try {
      mkdirSync(config.dir, { recursive: true })
    } catch (err) {
      throw unusable(config.dir, err)
    }
    try {
      this.#release = acquireLock(config.dir, LOCK_FILE, (holder) =>
        new InvalidOptionError('spool.dir', `a directory no other store uses (locked by pid ${holder?.pid ?? 'unknown'})`, config.dir))
    } catch (err) {
      throw err instanceof InvalidOptionError ? err : unusable(config.dir, err)
    }
    try {
      this.recovered = recoverSpool(config.dir) // O2-O4
    } catch (err) {
      this.#release()
      throw unusable(config.dir, err)
    }
    const r = this.recovered
    if (r.corruption.bytes > 0) {
      this.#log.error({ dir: config.dir, bytes: r.corruption.bytes, events: r.corruption.events }, 'spool corrupt: damaged tail discarded')
    }
    if (r.floorDamaged) this.#log.error({ dir: config.dir }, 'spool checkpoint damaged: replaying every spooled event')
    if (r.count > 0) this.#log.warn({ dir: config.dir, events: r.count, batches: r.batches.length }, 'spool recovered')
    this.#map = new SeqMap(r.seqs, r.count, r.nextSeq)
    this.#jobs = new JobQueue((err) => this.#fail(err))
    this.#writer = new SpoolWriter(config, this.#jobs, r.segments, r.nextSegment)
    this.#floorKeeper = new FloorKeeper(config.dir, config.files, this.#writer, r.floor, r.count > 0 ? r.nextSegment : 0)
    this.#producer = new ProducerState(config.dir, config.files)
    this.#timer = setInterval(this.#onTimer, config.checkpointIntervalMs)
    this.#timer.unref()
  }

  /** Bytes in live segments and queued for them. */
  get bytes (): number {
    return this.#writer.bytes
  }

  /** Events in live segments (settled or not) and queued. */
  get events (): number {
    return this.#writer.events
  }

  /** Damage cut at recovery. */
  get corruption (): SpoolCorruption {
    return this.recovered.corruption
  }

  /** Whether the spool has reached maxBytes. A failed spool is never full: the store runs from memory. */
  get full (): boolean {
    return this.#failure === undefined && !this.#closed && this.#writer.bytes >= this.#config.maxBytes
  }

  /** Whether a disk error failed the spool. */
  get failed (): boolean {
    return this.#failure !== undefined
  }

  /**
   * Called by the store once it has replayed every recovered event (or gave
   * up): from then on C4 may unlink the recovered segments.
   */
  replayed (): void {
    this.#floorKeeper.release()
  }

  /**
   * Appends a run of events numbered from `firstLedgerSeq` by the store's ledger.
   */
  appendRun (firstLedgerSeq: number, events: readonly string[], sizes: readonly number[]): void {
    if (this.#failure !== undefined || this.#closed || events.length === 0) return
    const firstSeq = this.#map.toSpool(firstLedgerSeq)
    this.#writer.append(encodeRun(firstSeq, events, sizes), events.length, firstSeq + events.length - 1)
  }

  /**
   * The directory's producer id, written on first use (see lib/spool/producer.ts).
   * @throws {@link InvalidOptionError} when `wanted` is not the one it holds
   */
  producerIdFor (wanted: string | undefined): string {
    try {
      return this.#producer.producerIdFor(wanted)
    } catch (err) {
      this.#release()
      throw err instanceof InvalidOptionError ? err : unusable(this.#config.dir, err)
    }
  }

  /** Where the producer's lanes stand: the lanes file and the cut records recovered, the higher of them. */
  laneHeads (producerId: string, lanes: number): Map<number, LaneHead> {
    return this.#producer.laneHeads(producerId, lanes, this.recovered)
  }

  /**
   * Appends a batch cut.
   * @param ledgerSeqs - the batch's ledger seqs as ranges
   * @param trail - the batch's place in its lane, with lanes
   * @returns a promise that settles (never rejects) once the cut is durable at the configured level,
   *   or at once when the spool failed
   */
  appendBatch (id: string, ledgerSeqs: readonly number[], trail?: BatchTrail): Promise<void> | undefined {
    if (this.#failure !== undefined || this.#closed) return undefined
    const seqs = this.#map.rangesToSpool(ledgerSeqs)
    let ticket: number
    if (trail === undefined) {
      ticket = this.#writer.append(encodeBatch(id, seqs), 0, seqs.at(-1) ?? -1)
    } else {
      const last = trail.seq + trail.hashes.length / 32 - 1
      const head = trail.hashes.subarray(trail.hashes.length - 32).toString('hex')
      const spooled = { producerId: trail.producerId, lane: trail.lane, seq: trail.seq, prev: trail.prev.toString('hex'), last, head }
      ticket = this.#writer.append(encodeBatch(id, seqs, spooled), 0, seqs.at(-1) ?? -1)
      this.#producer.cuts.push({ ticket, lane: trail.lane, seq: last, head })
    }
    // Neither failed nor closed (checked above), and a frame just appended is not durable yet.
    return this.#writer.wait(ticket).catch(() => {})
  }

  /**
   * Resolves once every frame appended so far is durable at the configured level.
   * @throws {@link SpoolError} when the spool failed, or fails before then
   */
  persisted (): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure)
    const ticket = this.#writer.appended
    if (this.#writer.durable >= ticket) return Promise.resolve()
    // Closed or abandoned: the writer takes no job any more, so a waiter would wait forever.
    if (this.#closed) return Promise.reject(new SpoolError('the spool was closed before the events were persisted'))
    return this.#writer.wait(ticket)
  }

  // The floor is the store's as it stands when the job starts, not when it was queued.
  readonly #onTimer = (): void => {
    void this.#jobs.enqueue(() => this.#floorJob(this.#map.toSpool(this.#ledgerFloor())))
  }

  // C0-C4 at the store's settled floor; C1-C3 only if it moved or when `closing`.
  async #floorJob (floor: number, closing = false): Promise<void> {
    await this.#producer.write(this.#writer.written) // C0
    await this.#floorKeeper.write(floor, closing) // C1-C3
    const wasFull = this.full
    await this.#floorKeeper.unlinkSettled() // C4
    if (wasFull && !this.full) this.onRoom?.()
  }

  /**
   * Closes the spool. With `clean`, every event is settled: a last floor
   * job, every segment unlinked, then the floor file, and the lock
   * released. Without, the files stay for the next store (the lock is released).
   * Never rejects.
   */
  async close (clean: boolean): Promise<void> {
    if (this.#closed) return this.#jobs.idle
    this.#closed = true
    clearInterval(this.#timer)
    this.#timer = undefined
    if (clean) {
      await this.#jobs.enqueue(async () => {
        await this.#writer.writeQueued()
        await this.#writer.closeFile(true)
        await this.#floorJob(this.#map.toSpool(this.#ledgerFloor()), true)
        if (this.#writer.segmentCount === 0) {
          await this.#floorKeeper.unlink()
          // Nothing is left to resend under this producer: the next store starts a producer of its own.
          if (this.#producer.producerId !== undefined) await this.#producer.remove()
        }
      })
    } else {
      await this.#jobs.enqueue(async () => {
        await this.#writer.writeQueued()
        await this.#writer.closeFile(false)
      })
    }
    await this.#jobs.idle
    if (clean && this.#failure !== undefined) await this.#removeAfterFailure()
    this.#writer.rejectWaiters(this.#failure ?? new SpoolError('the spool was closed before the events were persisted'))
    this.#release()
  }

  // After a disk error no batch cut is recorded any more, so events spooled before it were sent
  // under ids the spool does not know: left behind, the next store would send them again under
  // new ids. A clean close removes, oldest first, every segment whose events are all written
  // or dead-lettered, then the floor file once none is left. Best effort: the disk failed.
  async #removeAfterFailure (): Promise<void> {
    const floor = this.#map.toSpool(this.#ledgerFloor())
    try {
      await this.#writer.unlinkSettled(floor, 0)
      // A floor or lanes write the disk failed leaves its temp file behind.
      await this.#floorKeeper.unlinkTemp().catch(ignoreMissing)
      await this.#producer.removeTemp()
      if (this.#writer.segmentCount === 0) {
        await this.#floorKeeper.unlink().catch(ignoreMissing)
        await this.#producer.remove()
      }
    } catch (err) {
      this.#log.error({ err, dir: this.#config.dir }, 'spool cleanup after failure failed: the next store replays what is left')
    }
  }

  /**
   * Stops without touching the files again, as a crash would (the store was
   * destroyed): what is spooled is recovered by the next store. A job already
   * queued (a floor job, a write) does not start: the destroy has counted
   * the pending events lost in the ledger, so a floor written now would
   * cover them and unlink the only copy.
   */
  abandon (): void {
    if (this.#closed) return
    this.#closed = true
    this.#jobs.halt()
    clearInterval(this.#timer)
    this.#timer = undefined
    // The file is closed once the job under way has finished: it may be creating the next one.
    void this.#jobs.idle.then(() => this.#writer.closeFile(false)).catch(() => {}).finally(() => {
      this.#writer.rejectWaiters(this.#failure ?? new SpoolError('the store was destroyed before the events were persisted'))
      this.#release()
    })
  }

  #fail (err: Error): void {
    this.#failure = new SpoolError('the spool failed: delivering from memory only', { cause: err })
    this.#log.error({ err, dir: this.#config.dir }, 'spool failed: delivering from memory only')
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#writer.fail(this.#failure)
    this.onRoom?.()
  }
}

// A directory the file system will not let the spool use (a file, read-only, a lock that is a
// directory, ...): a bad option, with the file system's error as its cause.
function unusable (dir: string, err: unknown): InvalidOptionError {
  return new InvalidOptionError('spool.dir', 'a directory the store can create, lock, read and write', dir, { cause: err })
}
