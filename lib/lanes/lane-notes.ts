/**
 * The producer's notes about its lanes: a skip note for every range that
 * settled without being stored, and signed checkpoints of each lane's head
 * every `everyEvents` events, every `intervalMs` and at close. Each note is
 * appended to the local notes file (when set, before it is posted) and
 * posted through the sink: checkpoints here, one post at a time; skip notes
 * by lane-skips.ts, in their lane's order.
 */
import { appendFileSync } from 'node:fs'
import type { Logger } from 'pino'
import type { BatchTrail } from '../batching/batch.js'
import { formatNote } from '../chain/format-note.js'
import { NoteSigner } from '../chain/note-signature.js'
import type { TrailNote } from '../chain/signed-note.js'
import type { ResolvedTrailOptions } from '../options/trail.js'

/** Posts note texts; resolves true once stored, false when the destination keeps none; throws (a SinkError) otherwise. @internal */
export type PostLaneNotes = (texts: readonly string[], publicKeyPem: string | undefined) => Promise<boolean>

// The reference server takes at most 1000 notes per request.
const MAX_NOTES_PER_POST = 1_000

interface LaneProgress {
  // Invariant: every seq up to `through` is settled (stored or skipped); `head` is h at it.
  through: number
  head: string
  // Settled ranges above `through`, by first seq: [last, head at last].
  readonly ahead: Map<number, [number, string]>
  // The seq of the lane's latest checkpoint.
  checkpointed: number
}

/**
 * Counts what each lane has settled and writes the notes.
 * @internal
 */
export class LaneNotes {
  readonly #signer: NoteSigner | undefined
  readonly #options: ResolvedTrailOptions
  readonly #log: Logger
  readonly #post: PostLaneNotes
  readonly #lanes = new Map<number, LaneProgress>()
  #producerId = ''
  // Checkpoints waiting to be posted, and the post in flight; a flush waits for both.
  readonly #queued: string[] = []
  #posting: Promise<void> | undefined
  #timer: NodeJS.Timeout | undefined
  // Set once the server answered that it keeps no notes (404/405): notes then go to the file only.
  #serverless = false
  #fileFailed = false
  /** Notes signed, posted, and failed to post; changed only here. */
  readonly counts = { signed: 0, posted: 0, failed: 0 }

  constructor (options: ResolvedTrailOptions, log: Logger, post: PostLaneNotes) {
    this.#options = options
    this.#signer = options.signingKey === undefined ? undefined : new NoteSigner(options.signingKey, options.keyName)
    this.#log = log
    this.#post = post
    if (this.#signer !== undefined) {
      this.#timer = setInterval(() => this.checkpointAll(), options.intervalMs)
      this.#timer.unref()
    }
  }

  /** The public key notes are signed with, as an SPKI PEM; undefined without a signing key. */
  get publicKeyPem (): string | undefined {
    return this.#signer?.publicKeyPem()
  }

  /**
   * The skip note of a range that settled without being stored: its text,
   * appended to the file; the caller posts it in the lane's order.
   */
  skip (trail: BatchTrail, count: number, reason: string): string {
    const text = this.#text({
      kind: 'skip',
      producerId: trail.producerId,
      lane: trail.lane,
      from: trail.seq,
      to: trail.seq + count - 1,
      prev: trail.prev.toString('hex'),
      head: trail.hashes.subarray((count - 1) * 32, count * 32).toString('hex'),
      reason,
      time: new Date().toISOString()
    })
    this.#append(text)
    return text
  }

  /**
   * Posts notes; false when the destination keeps none (from then on none are posted).
   * @throws what the sink's `sendNotes` threw
   */
  async post (texts: readonly string[]): Promise<boolean> {
    if (this.#serverless) return false
    if (await this.#post(texts, this.publicKeyPem)) {
      this.counts.posted += texts.length
      return true
    }
    if (!this.#serverless) this.#log.warn('the destination keeps no trail notes: they go to the notes file only')
    this.#serverless = true
    return false
  }

  /**
   * Takes a batch the sink accepted, in cut order: the first of a lane
   * starts its count (the seqs before it were settled by an earlier store).
   */
  accepted (trail: BatchTrail): void {
    this.#producerId = trail.producerId
    if (!this.#lanes.has(trail.lane)) {
      this.#lanes.set(trail.lane, { through: trail.seq - 1, head: trail.prev.toString('hex'), ahead: new Map(), checkpointed: trail.seq - 1 })
    }
  }

  /**
   * Records that `count` events of a lane from `trail.seq` settled (stored
   * or skipped); checkpoints the lane once `everyEvents` more are settled.
   */
  settled (trail: BatchTrail, count: number): void {
    const lane = this.#lanes.get(trail.lane)
    if (lane === undefined) return
    const last = trail.seq + count - 1
    const head = trail.hashes.subarray((count - 1) * 32, count * 32).toString('hex')
    if (trail.seq <= lane.through + 1) {
      if (last > lane.through) { lane.through = last; lane.head = head }
    } else lane.ahead.set(trail.seq, [last, head])
    for (let next = lane.ahead.get(lane.through + 1); next !== undefined; next = lane.ahead.get(lane.through + 1)) {
      lane.ahead.delete(lane.through + 1)
      lane.through = next[0]
      lane.head = next[1]
    }
    if (this.#signer !== undefined && lane.through - lane.checkpointed >= this.#options.everyEvents) this.#checkpoint(trail.lane, lane)
  }

  /** Checkpoints every lane that moved since its latest checkpoint. */
  checkpointAll (): void {
    if (this.#signer === undefined) return
    for (const [n, lane] of this.#lanes) if (lane.through > lane.checkpointed) this.#checkpoint(n, lane)
  }

  /** Resolves once the checkpoints posted so far are settled; never rejects. */
  async idle (): Promise<void> {
    while (this.#posting !== undefined) await this.#posting
  }

  /** Counts `count` notes whose post failed for good. */
  postFailed (count: number): void {
    this.counts.failed += count
  }

  /** Stops the timer. */
  stop (): void {
    clearInterval(this.#timer)
  }

  #checkpoint (n: number, lane: LaneProgress): void {
    lane.checkpointed = lane.through
    const text = this.#text({ kind: 'checkpoint', producerId: this.#producerId, lane: n, seq: lane.through, head: lane.head, time: new Date().toISOString() })
    this.#append(text)
    this.#queued.push(text)
    this.#pump()
  }

  // One checkpoint post at a time, carrying every checkpoint made while the previous one was out.
  #pump (): void {
    if (this.#posting !== undefined || this.#queued.length === 0) return
    const texts = this.#queued.splice(0, MAX_NOTES_PER_POST)
    this.#posting = this.post(texts).then(() => {}, (err: unknown) => {
      this.postFailed(texts.length)
      this.#log.warn({ err, count: texts.length }, 'checkpoints not posted')
    }).finally(() => {
      this.#posting = undefined
      this.#pump()
    })
  }

  #text (note: TrailNote): string {
    if (this.#signer === undefined) return formatNote(note)
    this.counts.signed++
    return this.#signer.sign(note)
  }

  // A notes file that cannot be written is logged once; delivery goes on.
  #append (text: string): void {
    const file = this.#options.file
    if (file === undefined || this.#fileFailed) return
    try {
      appendFileSync(file, text)
    } catch (err) {
      this.#fileFailed = true
      this.#log.error({ err, file }, 'trail notes file not writable: notes are posted only')
    }
  }
}
