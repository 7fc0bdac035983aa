/**
 * The spool's writer: owns the segment files. Appends are buffered in
 * memory and written at the end of the tick in one writev (W1), synced when
 * someone waits for durability (W2), rolled over to a new segment before a
 * segment grows past segmentBytes (R1-R4), and unlinked once the floor
 * covers them (C4). The steps are those of the order of operations at the
 * top of lib/spool/spool.ts; every file operation runs in a job of the
 * spool's {@link JobQueue}.
 *
 * Positions are tickets: byte offsets in the stream of frames appended since
 * the store opened. A caller waiting for durability waits for the ticket of
 * the last frame it appended.
 */
import { join } from 'node:path'
import type { SpoolError } from '../errors.js'
import type { JobQueue } from './job-queue.js'
import type { SegmentInfo } from './recovery.js'
import { segmentName } from './segment-name.js'
import type { SpoolFile, SpoolFiles } from './spool-files.js'

/** What the writer needs of the spool's settings. @internal */
export interface WriterConfig {
  readonly dir: string
  readonly durability: 'process' | 'os'
  readonly segmentBytes: number
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
 * Appends frames to segment files, one job at a time.
 * @internal
 */
export class SpoolWriter {
  readonly #config: WriterConfig
  readonly #jobs: JobQueue
  // Invariant: live segments oldest first; the last is the current one once #file is open.
  readonly #segments: LiveSegment[]
  #nextSegment: number
  #file: SpoolFile | undefined
  // Frames appended and not yet handed to a writev; #queuedBytes and #queuedEvents are their
  // bytes and events, #pendingMaxRef the highest seq they name (-1 when none).
  #queue: Buffer[] = []
  #queuedBytes = 0
  #queuedEvents = 0
  #pendingMaxRef = -1
  // Invariants: tickets are byte positions in the append stream.
  // #appended >= #written >= #durable; a waiter resolves once #durable >= its ticket.
  #appended = 0
  #written = 0
  #durable = 0
  #waiters: Waiter[] = []
  // Invariant: a write job is queued for the end of this tick.
  #scheduled = false

  /**
   * @param segments - the recovered segments, oldest first: they count as live until unlinked
   * @param nextSegment - the index of the first segment this writer creates
   */
  constructor (config: WriterConfig, jobs: JobQueue, segments: readonly SegmentInfo[], nextSegment: number) {
    this.#config = config
    this.#jobs = jobs
    this.#segments = segments.map((s) => ({ ...s }))
    this.#nextSegment = nextSegment
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

  /** How many segments are live (not yet unlinked). */
  get segmentCount (): number {
    return this.#segments.length
  }

  /** The ticket of the last frame appended. */
  get appended (): number {
    return this.#appended
  }

  /** The ticket up to which frames are written (W1). */
  get written (): number {
    return this.#written
  }

  /** The ticket up to which frames are durable at the configured level. */
  get durable (): number {
    return this.#durable
  }

  /**
   * Queues a frame for the next writev, at the end of this tick.
   * @param events - the events it holds (0 for a batch cut)
   * @param maxRef - the highest spool seq it names
   * @returns its ticket
   */
  append (frame: Buffer, events: number, maxRef: number): number {
    this.#queue.push(frame)
    this.#queuedBytes += frame.length
    this.#queuedEvents += events
    this.#appended += frame.length
    this.#pendingMaxRef = Math.max(this.#pendingMaxRef, maxRef)
    this.#schedule()
    return this.#appended
  }

  /**
   * Resolves once `ticket` is durable at the configured level; rejects when
   * {@link SpoolWriter.rejectWaiters} is called first. The caller checked
   * that it is not durable yet and that the spool still takes jobs.
   */
  wait (ticket: number): Promise<void> {
    return new Promise((resolve, reject) => {
      this.#waiters.push({ ticket, resolve, reject })
      this.#schedule()
    })
  }

  /** Rejects every waiter with `err`. */
  rejectWaiters (err: Error): void {
    for (const waiter of this.#waiters) waiter.reject(err)
    this.#waiters = []
  }

  #schedule (): void {
    if (this.#scheduled) return
    this.#scheduled = true
    // The end of this tick: everything appended in the tick goes in one writev.
    process.nextTick(() => {
      this.#scheduled = false
      void this.#jobs.enqueue(() => this.writeQueued())
    })
  }

  /** Writes every queued frame (W1), syncs for waiters (W2) and wakes them. Runs inside a job. */
  async writeQueued (): Promise<void> {
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

  /**
   * C4: unlinks, oldest first, every segment whose records all name seqs
   * below `floor`, except those whose index is below `keep`. The current
   * segment too once all it names is settled (closed first; the next write
   * rolls to a new one): otherwise a spool whose current segment alone
   * reaches maxBytes would stay full for good. Runs inside a job, or once
   * the jobs are done.
   */
  async unlinkSettled (floor: number, keep: number): Promise<void> {
    for (const segment of [...this.#segments]) {
      if (segment.maxRef >= floor || segment.index < keep) continue
      if (segment === this.#segments.at(-1) && this.#file !== undefined) {
        if (segment.bytes === 0) continue
        const file = this.#file
        this.#file = undefined
        await file.close()
      }
      await this.#config.files.unlink(segment.path) // C4
      this.#segments.splice(this.#segments.indexOf(segment), 1)
    }
  }

  /**
   * Closes the current segment, if one is open; with `sync` and durability
   * 'os', after an fdatasync. The next write rolls to a new one.
   */
  async closeFile (sync: boolean): Promise<void> {
    const file = this.#file
    this.#file = undefined
    if (file === undefined) return
    if (sync && this.#config.durability === 'os') await file.datasync()
    await file.close()
  }

  /**
   * The spool failed: drops the queued frames, rejects every waiter with
   * `failure` and closes the current segment without waiting (its errors
   * are ignored: the disk already failed).
   */
  fail (failure: SpoolError): void {
    this.#queue = []
    this.#queuedBytes = 0
    this.#queuedEvents = 0
    this.rejectWaiters(failure)
    const file = this.#file
    this.#file = undefined
    file?.close().catch(() => {})
  }
}
