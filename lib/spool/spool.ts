/**
 * The spool: a durable copy of every event a store accepts, on local disk,
 * until the event is settled. See README "Durability".
 *
 * # Order of file operations
 *
 * Opening (synchronous, in the store's constructor):
 *   O1. create `dir` if needed; take `dir/lock` (lib/files/dir-lock.ts, L1-L5: holding
 *       our pid, start time and a token; a lock whose process is gone is stale
 *       and taken over, by one process only).
 *   O2. read `checkpoint` (the floor F: every spool seq below F is settled).
 *   O3. read each `segment-N.log`, oldest first; at the first frame that is
 *       torn, fails its CRC or does not decode, truncate the file there and
 *       fsync it (the damage is counted once).
 *   O4. unlink each segment whose records all name seqs below F (a crash
 *       came between a checkpoint and its unlinks).
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
 * Checkpoint (a writer job, every checkpointIntervalMs and at close):
 *   C0. with lanes, when a lane's head moved: write `lanes.tmp` with the
 *       heads of every cut record written so far; fsync; rename over `lanes`
 *       (lib/spool/producer.ts). Before C4, so no unlink takes a lane's last head.
 *   C1. write `checkpoint.tmp` with the new floor; fsync it; close it.
 *   C2. rename `checkpoint.tmp` over `checkpoint`.
 *   C3. fsync `dir`: the rename is durable.
 *   C4. only now unlink the segments whose records all name seqs below the
 *       new floor (the current one is closed first; the next writev rolls to
 *       a new one), except recovered segments while the store still replays
 *       them (replay reads a segment only when it gets to it). A crash before C3 leaves the old checkpoint
 *       and every segment; a crash between C4's unlinks leaves segments O4
 *       removes.
 *
 * Clean close: after the store settled every event, one last checkpoint
 * (C1-C4, which with nothing pending unlinks every segment, the current one
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
import { join } from 'node:path'
import type { Logger } from 'pino'
import { InvalidOptionError, SpoolError } from '../errors.js'
import { CHECKPOINT_FILE, CHECKPOINT_TEMP_FILE, encodeCheckpoint } from './checkpoint.js'
import { acquireLock } from '../files/dir-lock.js'
import type { BatchTrail } from '../batching/batch.js'
import type { LaneHead } from '../lanes/lane-chains.js'
import { encodeLanes, LANES_FILE, LANES_TEMP_FILE, PRODUCER_FILE, mergeHeads, producerIdOf, readLanes, toLaneHeads, type LaneHeads } from './producer.js'
import { encodeBatch, encodeRun } from './record-format.js'
import { recoverSpool, segmentName, type RecoveredSpool, type SpoolCorruption } from './recovery.js'
import { SeqMap } from './seq-map.js'
import type { SpoolFile, SpoolFiles } from './spool-files.js'

/** The lock's file name in the spool directory. @internal */
export const LOCK_FILE = 'lock'

/** Spool settings, resolved. @internal */
export interface SpoolConfig {
  readonly dir: string
  readonly durability: 'process' | 'os'
  readonly maxBytes: number
  readonly segmentBytes: number
  readonly checkpointIntervalMs: number
  readonly files: SpoolFiles
}

interface LiveSegment {
  readonly index: number
  readonly path: string
  bytes: number
  events: number
  // Invariant: the highest spool seq any record in it names; -1 when none.
  maxRef: number
}

interface Waiter {
  readonly ticket: number
  readonly resolve: () => void
  readonly reject: (err: Error) => void
}

/**
 * The spool of one store. Appends are synchronous and buffered; one writer
 * job runs at a time (see the order of operations above).
 * @internal
 */
export class Spool {
  readonly #config: SpoolConfig
  readonly #log: Logger
  readonly #release: () => void
  readonly #map: SeqMap
  readonly recovered: RecoveredSpool
  // Invariant: live segments oldest first; the last is the current one once #file is open.
  readonly #segments: LiveSegment[]
  #nextSegment: number
  #file: SpoolFile | undefined
  // Frames appended and not yet handed to a writev; #queuedBytes is their size.
  #queue: Buffer[] = []
  #queuedBytes = 0
  // Invariants: tickets are byte positions in the append stream.
  // #appended >= #written >= #durable; a waiter resolves once #durable >= its ticket.
  #appended = 0
  #written = 0
  #durable = 0
  #waiters: Waiter[] = []
  // The writer: every file operation runs on this chain, one at a time.
  #chain: Promise<void> = Promise.resolve()
  #scheduled = false
  // The checkpoint on disk; every seq below it is settled.
  #floor: number
  #timer: NodeJS.Timeout | undefined
  #failure: SpoolError | undefined
  #closed = false
  // Set by abandon(): no job starts after it. Jobs queued before it would read a ledger floor
  // that the destroy moved past events it counts lost, which the next store must replay.
  #abandoned = false
  // Called when the spool drops below maxBytes after being full.
  onRoom: (() => void) | undefined
  // With lanes: the producer the directory belongs to, the lane heads of cut records written
  // (C0 writes them), and cuts appended and not yet known written, with their tickets.
  #producerId: string | undefined
  #heads: LaneHeads = new Map()
  #headsMoved = false
  #cuts: Array<{ ticket: number, lane: number, seq: number, head: string }> = []
  // Where the settled floor comes from: the store's ledger, below which every event is written
  // or dead-lettered (one counted lost stays spooled, and so does everything after it).
  #ledgerFloor: () => number
  // Invariant: while the store replays, segments below this index are recovered ones replay may
  // still read: C4 leaves them alone, even once the floor covers every seq they name (a segment
  // holding only batch cuts names seqs that are delivered before replay gets to it).
  #replayHold = 0

  /**
   * Opens (O1-O4) `config.dir`.
   * @throws {@link InvalidOptionError} when another live process holds the directory
   */
  constructor (config: SpoolConfig, log: Logger, ledgerFloor: () => number) {
    this.#config = config
    this.#log = log.child({ component: 'spool' })
    this.#ledgerFloor = ledgerFloor
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
      this.recovered = recoverSpool(config.dir)
    } catch (err) {
      this.#release()
      throw unusable(config.dir, err)
    }
    const r = this.recovered
    if (r.corruption.bytes > 0) {
      this.#log.error({ dir: config.dir, bytes: r.corruption.bytes, events: r.corruption.events }, 'spool corrupt: damaged tail discarded')
    }
    if (r.checkpointDamaged) this.#log.error({ dir: config.dir }, 'spool checkpoint damaged: replaying every spooled event')
    if (r.count > 0) this.#log.warn({ dir: config.dir, events: r.count, batches: r.batches.length }, 'spool recovered')
    this.#map = new SeqMap(r.seqs, r.count, r.nextSeq)
    this.#segments = r.segments.map((s) => ({ ...s }))
    this.#nextSegment = r.nextSegment
    this.#floor = r.floor
    if (r.count > 0) this.#replayHold = r.nextSegment
    this.#timer = setInterval(this.#onTimer, config.checkpointIntervalMs)
    this.#timer.unref()
  }

  /** Bytes in live segments and queued for them. */
  get bytes (): number {
    let bytes = this.#queuedBytes
    for (const s of this.#segments) bytes += s.bytes
    return bytes
  }

  /** Events in live segments (settled or not) and queued. */
  get events (): number {
    let events = this.#queuedEvents
    for (const s of this.#segments) events += s.events
    return events
  }

  #queuedEvents = 0

  /** Damage cut at recovery. */
  get corruption (): SpoolCorruption {
    return this.recovered.corruption
  }

  /** Whether the spool has reached maxBytes. A failed spool is never full: the store runs from memory. */
  get full (): boolean {
    return this.#failure === undefined && !this.#closed && this.bytes >= this.#config.maxBytes
  }

  /** Whether a disk error failed the spool. */
  get failed (): boolean {
    return this.#failure !== undefined
  }

  /**
   * Called by the store once replay has read every recovered segment (or
   * gave up): from then on the checkpoint may unlink them.
   */
  replayed (): void {
    this.#replayHold = 0
  }

  /**
   * Appends a run of events numbered from `firstLedgerSeq` by the store's ledger.
   */
  appendRun (firstLedgerSeq: number, events: readonly string[], sizes: readonly number[]): void {
    if (this.#failure !== undefined || this.#closed || events.length === 0) return
    const firstSeq = this.#map.toSpool(firstLedgerSeq)
    this.#enqueue(encodeRun(firstSeq, events, sizes), events.length, firstSeq + events.length - 1)
  }

  /**
   * The directory's producer id, written on first use (see lib/spool/producer.ts).
   * @throws {@link InvalidOptionError} when `wanted` is not the one it holds
   */
  producerIdFor (wanted: string | undefined): string {
    if (this.#producerId !== undefined) return this.#producerId
    try {
      this.#producerId = producerIdOf(this.#config.dir, wanted)
    } catch (err) {
      this.#release()
      throw err instanceof InvalidOptionError ? err : unusable(this.#config.dir, err)
    }
    return this.#producerId
  }

  /** Where the producer's lanes stand: the lanes file and the cut records recovered, the higher of them. */
  laneHeads (producerId: string, lanes: number): Map<number, LaneHead> {
    this.#heads = mergeHeads(readLanes(this.#config.dir, producerId), this.recovered.laneHeads.get(producerId) ?? [])
    return toLaneHeads(this.#heads, lanes)
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
    if (trail === undefined) {
      this.#enqueue(encodeBatch(id, seqs), 0, seqs.at(-1) ?? -1)
    } else {
      const last = trail.seq + trail.hashes.length / 32 - 1
      const head = trail.hashes.subarray(trail.hashes.length - 32).toString('hex')
      const spooled = { producerId: trail.producerId, lane: trail.lane, seq: trail.seq, prev: trail.prev.toString('hex'), last, head }
      this.#enqueue(encodeBatch(id, seqs, spooled), 0, seqs.at(-1) ?? -1)
      this.#cuts.push({ ticket: this.#appended, lane: trail.lane, seq: last, head })
    }
    return this.#wait(this.#appended).catch(() => {})
  }

  /**
   * Resolves once every frame appended so far is durable at the configured level.
   * @throws {@link SpoolError} when the spool failed, or fails before then
   */
  persisted (): Promise<void> {
    return this.#wait(this.#appended)
  }

  #wait (ticket: number): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure)
    if (this.#durable >= ticket) return Promise.resolve()
    // Closed or abandoned: the writer takes no job any more, so a waiter would wait forever.
    if (this.#closed) return Promise.reject(new SpoolError('the spool was closed before the events were persisted'))
    return new Promise((resolve, reject) => {
      this.#waiters.push({ ticket, resolve, reject })
      this.#schedule()
    })
  }

  #enqueue (frame: Buffer, events: number, maxRef: number): void {
    this.#queue.push(frame)
    this.#queuedBytes += frame.length
    this.#queuedEvents += events
    this.#appended += frame.length
    this.#pendingMaxRef = Math.max(this.#pendingMaxRef, maxRef)
    this.#schedule()
  }

  // Invariant: the highest seq named by a queued frame.
  #pendingMaxRef = -1

  #schedule (): void {
    if (this.#scheduled) return
    this.#scheduled = true
    // The end of this tick: everything appended in the tick goes in one writev.
    process.nextTick(() => {
      this.#scheduled = false
      this.#run(() => this.#writeJob())
    })
  }

  #run (job: () => Promise<void>): Promise<void> {
    const next = this.#chain.then(async () => {
      if (this.#failure !== undefined || this.#abandoned) return
      try {
        await job()
      } catch (err) {
        this.#fail(err as Error)
      }
    })
    this.#chain = next
    return next
  }

  async #writeJob (): Promise<void> {
    if (this.#queue.length > 0) {
      const frames = this.#queue
      const bytes = this.#queuedBytes
      const events = this.#queuedEvents
      const maxRef = this.#pendingMaxRef
      this.#queue = []
      this.#queuedBytes = 0
      this.#queuedEvents = 0
      this.#pendingMaxRef = -1
      let current = this.#segments.at(-1)
      if (this.#file === undefined || current === undefined || (current.bytes > 0 && current.bytes + bytes > this.#config.segmentBytes)) {
        current = await this.#roll()
      }
      // The frames count as spooled from here: a crash mid-writev leaves a torn tail that recovery cuts.
      current.bytes += bytes
      current.events += events
      current.maxRef = Math.max(current.maxRef, maxRef)
      await this.#file!.writev(frames) // W1
      this.#written += bytes
      if (this.#config.durability === 'process') this.#durable = this.#written
    }
    if (this.#config.durability === 'os' && this.#durable < this.#written && this.#waiters.some((w) => w.ticket > this.#durable)) {
      const mark = this.#written
      await this.#file!.datasync() // W2
      this.#durable = mark
    }
    this.#wake()
  }

  async #roll (): Promise<LiveSegment> {
    const old = this.#file
    if (old !== undefined) {
      this.#file = undefined
      if (this.#config.durability === 'os') {
        await old.datasync() // R1
        this.#durable = this.#written
      }
      await old.close() // R2
    }
    const index = this.#nextSegment++
    const path = join(this.#config.dir, segmentName(index))
    this.#file = await this.#config.files.create(path) // R3
    // Tracked from its creation: a failed R4 leaves it for cleanup, not behind.
    const segment: LiveSegment = { index, path, bytes: 0, events: 0, maxRef: -1 }
    this.#segments.push(segment)
    if (this.#config.durability === 'os') await this.#config.files.syncDir(this.#config.dir) // R4
    return segment
  }

  #wake (): void {
    if (this.#waiters.length === 0) return
    const left: Waiter[] = []
    for (const waiter of this.#waiters) {
      if (waiter.ticket <= this.#durable) waiter.resolve()
      else left.push(waiter)
    }
    this.#waiters = left
    // Waiters that came during a sync need another one.
    if (left.length > 0) this.#schedule()
  }

  readonly #onTimer = (): void => {
    void this.checkpoint()
  }

  /**
   * Writes a checkpoint at the store's settled floor, if it moved (C1-C4).
   * Never rejects: a failure fails the spool.
   */
  checkpoint (): Promise<void> {
    return this.#run(() => this.#checkpointJob(this.#map.toSpool(this.#ledgerFloor())))
  }

  async #checkpointJob (floor: number, closing = false): Promise<void> {
    const { dir, files } = this.#config
    // C0: the heads of the cuts written so far (their tickets are below #written).
    while (this.#cuts.length > 0 && this.#cuts[0]!.ticket <= this.#written) {
      const { lane, seq, head } = this.#cuts.shift()!
      if ((this.#heads.get(lane)?.seq ?? 0) < seq) {
        this.#heads.set(lane, { seq, head })
        this.#headsMoved = true
      }
    }
    if (this.#headsMoved && this.#producerId !== undefined) {
      const temp = join(dir, LANES_TEMP_FILE)
      await files.writeSynced(temp, encodeLanes(this.#producerId, this.#heads))
      await files.rename(temp, join(dir, LANES_FILE))
      this.#headsMoved = false
    }
    if (floor > this.#floor || closing) {
      const temp = join(dir, CHECKPOINT_TEMP_FILE)
      await files.writeSynced(temp, encodeCheckpoint(floor)) // C1
      await files.rename(temp, join(dir, CHECKPOINT_FILE)) // C2
      await files.syncDir(dir) // C3
      this.#floor = floor
    }
    const wasFull = this.full
    // C4. The current segment too once all it names is settled (closed first; the next write
    // rolls to a new one): otherwise a spool whose current segment alone reaches maxBytes
    // would stay full for good.
    for (const segment of [...this.#segments]) {
      if (segment.maxRef >= this.#floor || segment.index < this.#replayHold) continue
      if (segment === this.#segments.at(-1) && this.#file !== undefined) {
        if (segment.bytes === 0) continue
        const file = this.#file
        this.#file = undefined
        await file.close()
      }
      await this.#config.files.unlink(segment.path)
      this.#segments.splice(this.#segments.indexOf(segment), 1)
    }
    if (wasFull && !this.full) this.onRoom?.()
  }

  /**
   * Closes the spool. With `clean`, every event is settled: a last
   * checkpoint, every segment unlinked, then the checkpoint, and the lock
   * released. Without, the files stay for the next store (the lock is released).
   * Never rejects.
   */
  async close (clean: boolean): Promise<void> {
    if (this.#closed) return this.#chain
    this.#closed = true
    clearInterval(this.#timer)
    this.#timer = undefined
    if (clean) {
      await this.#run(async () => {
        await this.#writeJob()
        const file = this.#file
        this.#file = undefined
        if (file !== undefined) {
          if (this.#config.durability === 'os') await file.datasync()
          await file.close()
        }
        await this.#checkpointJob(this.#map.toSpool(this.#ledgerFloor()), true)
        if (this.#segments.length === 0) {
          await this.#config.files.unlink(join(this.#config.dir, CHECKPOINT_FILE))
          // Nothing is left to resend under this producer: the next store starts a producer of its own.
          if (this.#producerId !== undefined) await this.#removeProducer()
        }
      })
    } else {
      await this.#run(async () => {
        await this.#writeJob()
        const file = this.#file
        this.#file = undefined
        await file?.close()
      })
    }
    await this.#chain
    if (clean && this.#failure !== undefined) await this.#removeAfterFailure()
    for (const waiter of this.#waiters) waiter.reject(this.#failure ?? new SpoolError('the spool was closed before the events were persisted'))
    this.#waiters = []
    this.#release()
  }

  async #removeProducer (): Promise<void> {
    const gone = (err: NodeJS.ErrnoException): void => { if (err.code !== 'ENOENT') throw err }
    await this.#config.files.unlink(join(this.#config.dir, LANES_FILE)).catch(gone)
    await this.#config.files.unlink(join(this.#config.dir, PRODUCER_FILE)).catch(gone)
  }

  // After a disk error no batch cut is recorded any more, so events spooled before it were sent
  // under ids the spool does not know: left behind, the next store would send them again under
  // new ids. A clean close removes, oldest first, every segment whose events are all written
  // or dead-lettered, then the checkpoint once none is left. Best effort: the disk failed.
  async #removeAfterFailure (): Promise<void> {
    const floor = this.#map.toSpool(this.#ledgerFloor())
    try {
      for (const segment of [...this.#segments]) {
        if (segment.maxRef >= floor) continue
        await this.#config.files.unlink(segment.path)
        this.#segments.splice(this.#segments.indexOf(segment), 1)
      }
      const gone = (err: NodeJS.ErrnoException): void => { if (err.code !== 'ENOENT') throw err }
      // A checkpoint write the disk failed leaves its temp file behind.
      await this.#config.files.unlink(join(this.#config.dir, CHECKPOINT_TEMP_FILE)).catch(gone)
      await this.#config.files.unlink(join(this.#config.dir, LANES_TEMP_FILE)).catch(gone)
      if (this.#segments.length === 0) {
        await this.#config.files.unlink(join(this.#config.dir, CHECKPOINT_FILE)).catch(gone)
        await this.#removeProducer()
      }
    } catch (err) {
      this.#log.error({ err, dir: this.#config.dir }, 'spool cleanup after failure failed: the next store replays what is left')
    }
  }

  /**
   * Stops without touching the files again, as a crash would (the store was
   * destroyed): what is spooled is replayed by the next store. A job already
   * queued on the writer (a checkpoint tick, a write) does not start: the
   * destroy has counted the pending events lost in the ledger, so a
   * checkpoint now would cover them and unlink the only copy.
   */
  abandon (): void {
    if (this.#closed) return
    this.#closed = true
    this.#abandoned = true
    clearInterval(this.#timer)
    this.#timer = undefined
    // The file is closed once the job under way has finished: it may be creating the next one.
    void this.#chain.then(() => {
      const file = this.#file
      this.#file = undefined
      return file?.close()
    }).catch(() => {}).finally(() => {
      for (const waiter of this.#waiters) waiter.reject(this.#failure ?? new SpoolError('the store was destroyed before the events were persisted'))
      this.#waiters = []
      this.#release()
    })
  }

  #fail (err: Error): void {
    if (this.#failure !== undefined) return
    this.#failure = new SpoolError('the spool failed: delivering from memory only', { cause: err })
    this.#log.error({ err, dir: this.#config.dir }, 'spool failed: delivering from memory only')
    clearInterval(this.#timer)
    this.#timer = undefined
    this.#queue = []
    this.#queuedBytes = 0
    this.#queuedEvents = 0
    for (const waiter of this.#waiters) waiter.reject(this.#failure)
    this.#waiters = []
    const file = this.#file
    this.#file = undefined
    file?.close().catch(() => {})
    this.onRoom?.()
  }
}

// A directory the file system will not let the spool use (a file, read-only, a lock that is a
// directory, ...): a bad option, with the file system's error as its cause.
function unusable (dir: string, err: unknown): InvalidOptionError {
  return new InvalidOptionError('spool.dir', 'a directory the store can create, lock, read and write', dir, { cause: err })
}
