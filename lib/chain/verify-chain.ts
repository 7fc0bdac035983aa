/**
 * The verifier: walks a lane's seqs, recomputing the chain over the stored
 * events' exact bytes, checking each served form against those bytes, and
 * checking checkpoint and skip notes against the recomputed heads. Used by
 * the server's `GET /api/v1/audit/verify` and by `audit-stream verify`.
 *
 * The walk advances only by a row or by a skip note, so its cost is bounded
 * by the rows and notes given, never by `to`.
 *
 * One job, the walk: the file passes 300 lines by the TSDoc of its public
 * input and result types, which stay beside the function that fills them.
 */
import type { KeyObject } from 'node:crypto'
import { InvalidOptionError } from '../errors.js'
import { chainHash, eventDigest, GENESIS, HEX64, uuidBytes } from './chain-hash.js'
import { servedMatchesRaw } from './served-form.js'
import { noteVerifies, publicKeyOf } from './note-signature.js'
import type { CheckpointNote, ParsedNote, SkipNote } from './signed-note.js'

/**
 * One stored event of a lane, as the server holds it.
 *
 * @example
 * ```ts
 * const row: ChainRow = { seq: 1, hash: h1.toString('hex'), raw: batch.events[0], event: servedEvent }
 * ```
 */
export interface ChainRow {
  /** The event's seq in its lane. */
  readonly seq: number
  /** The chain hash the server stored, lowercase hex. */
  readonly hash: string
  /** The exact event JSON the server received. */
  readonly raw: string
  /** The served form, as `GET /api/v1/audit/events` returns it. */
  readonly event: Record<string, unknown>
}

/**
 * Why verification stopped.
 * - `missing`: no row at the seq and no valid skip covering it;
 * - `altered`: the served form differs from the raw bytes, or the bytes do not hash to the stored chain hash;
 * - `reordered`: the row belongs at another seq, or two rows claim the seq;
 * - `signature`: a note does not verify, is not by a trusted key, is replayed, or its head is not the chain's.
 *
 * @example
 * ```ts
 * if (result.reason === 'signature') console.error('checkpoint check failed at', result.first_bad_seq)
 * ```
 */
export type VerifyReason = 'missing' | 'altered' | 'reordered' | 'signature'

/**
 * A dead-lettered range covered by a valid skip note.
 *
 * @example
 * ```ts
 * for (const s of result.skips) console.log(`skip ${s.from}..${s.to} (${s.reason})`)
 * ```
 */
export interface VerifySkip {
  /** First skipped seq. */
  from: number
  /** Last skipped seq. */
  to: number
  /** The dead-letter reason the skip note gives. */
  reason: string
}

/**
 * The outcome of verifying one lane's range.
 *
 * @example
 * ```ts
 * const ok = result.first_bad_seq === undefined && result.verified_through === result.to
 * ```
 */
export interface VerifyResult {
  /** The producer verified. */
  producer_id: string
  /** The lane verified. */
  lane: number
  /** First seq of the range. */
  from: number
  /** Last seq of the range. */
  to: number
  /**
   * The highest seq s (from-1 when none) such that every seq from..s is
   * present, intact and linked (or covered by a valid skip), and s is
   * anchored by a valid checkpoint or skip at s or later on the intact chain.
   */
  verified_through: number
  /** The highest seq through which the chain recomputes, anchored or not (from-1 when none). */
  chained_through: number
  /** The first seq that failed, when one did. */
  first_bad_seq?: number
  /** Why it failed. */
  reason?: VerifyReason
  /** What failed, in words. */
  detail?: string
  /** The valid skips walked over, in seq order. */
  skips: VerifySkip[]
  /** The valid checkpoints seen in the range. */
  checkpoints: number
}

/**
 * What {@link verifyChain} checks.
 *
 * @example
 * ```ts
 * const input: VerifyChainInput = { producerId, lane: 0, rows, notes: parseNotes(text), publicKeys: [publicKeyOf(pem)] }
 * ```
 */
export interface VerifyChainInput {
  /** The producer's UUID. */
  readonly producerId: string
  /** The lane. */
  readonly lane: number
  /** First seq to verify; 1 by default. */
  readonly from?: number
  /** Last seq to verify; by default the highest seq of the rows and of this lane's notes. */
  readonly to?: number
  /**
   * h_{from-1} in hex. By default GENESIS for from = 1, else the head of a
   * valid checkpoint (or skip) at from-1, else the stored hash of a row at from-1.
   */
  readonly start?: string
  /** The lane's stored rows; indexed by seq, so their order does not matter. */
  readonly rows: readonly ChainRow[]
  /** Notes; those of another producer or lane are ignored. */
  readonly notes: readonly ParsedNote[]
  /** Trusted keys: when given, a note counts only when signed by one of them (an empty list trusts none). */
  readonly publicKeys?: readonly KeyObject[]
}

interface Failure { readonly seq: number, readonly reason: VerifyReason, readonly detail: string }

/**
 * Verifies a lane's range `from..to`: seq by seq, a valid skip starting at
 * the seq moves the chain to the skip's head; else the row must be present
 * (`missing`), its served form must match its raw bytes (`altered`), and its
 * bytes must chain to its stored hash (`altered`, or `reordered` when the row
 * belongs at another seq or two rows claim the seq). A checkpoint at the seq
 * must be signed by a trusted key, carry the recomputed head, and not be
 * older than a checkpoint at a lower seq (`signature`); so must a skip's
 * signature. Hostile rows and notes yield a failure result, never an exception.
 *
 * @param input - the lane, the range, the rows, the notes and the trusted keys
 * @returns how far the lane verifies, and the first failure if any
 * @throws {@link InvalidOptionError} when `producerId`, `lane`, `from`, `to`, `start` or a key is out of range
 * @example
 * ```ts
 * const { events, notes } = await (await fetch(`${url}/api/v1/audit/chain?producer_id=${p}&lane=0`)).json()
 * const result = verifyChain({ producerId: p, lane: 0, rows: events, notes: notes.map(parseNote), publicKeys: [publicKeyOf(pem)] })
 * if (result.first_bad_seq !== undefined) console.error(result.first_bad_seq, result.reason, result.detail)
 * ```
 */
export function verifyChain (input: VerifyChainInput): VerifyResult {
  const { producerId, lane } = input
  uuidBytes(producerId)
  if (!Number.isInteger(lane) || lane < 0 || lane > 0xffffffff) throw new InvalidOptionError('lane', 'an integer in 0..2^32-1', lane)
  const from = input.from ?? 1
  if (!Number.isSafeInteger(from) || from < 1) throw new InvalidOptionError('from', 'a safe integer >= 1', from)
  const keys = input.publicKeys?.map((k) => publicKeyOf(k))
  if (input.start !== undefined && (typeof input.start !== 'string' || !HEX64.test(input.start))) throw new InvalidOptionError('start', '64 lowercase hex characters', input.start)
  const rows = Array.isArray(input.rows) ? input.rows : []
  const notes = (Array.isArray(input.notes) ? input.notes : []).filter((n) => aboutLane(n, producerId.toLowerCase(), lane))
  const to = input.to ?? Math.max(from - 1, highestSeq(rows, notes))
  if (!Number.isSafeInteger(to) || to < from - 1) throw new InvalidOptionError('to', `a safe integer >= from - 1 (${from - 1})`, to)

  const result: VerifyResult = { producer_id: producerId, lane, from, to, verified_through: from - 1, chained_through: from - 1, skips: [], checkpoints: 0 }
  const fail = (f: Failure): VerifyResult => Object.assign(result, { first_bad_seq: f.seq, reason: f.reason, detail: f.detail })

  const bySeq = new Map<number, ChainRow[]>()
  for (const [i, row] of rows.entries()) {
    const seq = (row as Partial<ChainRow> | null)?.seq
    if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 1) {
      return fail({ seq: from, reason: 'altered', detail: `row ${i} has no valid seq (${describe(seq)})` })
    }
    if (seq < from - 1 || seq > to) continue
    const list = bySeq.get(seq)
    if (list === undefined) bySeq.set(seq, [row])
    else list.push(row)
  }
  // Each note is verified once, however often the walk asks.
  const verdicts = new Map<ParsedNote, boolean>()
  const trusted = (n: ParsedNote): boolean => {
    if (keys === undefined) return true
    let ok = verdicts.get(n)
    if (ok === undefined) verdicts.set(n, ok = keys.some((k) => safeVerifies(n, k)))
    return ok
  }
  const checkpointsAt = new Map<number, ParsedNote[]>()
  const skipsAt = new Map<number, ParsedNote[]>()
  for (const n of notes) {
    const at = n.note.kind === 'checkpoint' ? n.note.seq : n.note.from
    const map = n.note.kind === 'checkpoint' ? checkpointsAt : skipsAt
    const list = map.get(at)
    if (list === undefined) map.set(at, [n])
    else list.push(n)
  }

  let h: Buffer
  if (input.start !== undefined) h = Buffer.from(input.start, 'hex')
  else if (from === 1) h = GENESIS
  else {
    const known = startOf(from - 1, notes, trusted, bySeq.get(from - 1))
    if (known === undefined) return fail({ seq: from, reason: 'missing', detail: `no hash known for seq ${from - 1}: give start, or a checkpoint or the row at seq ${from - 1}` })
    h = known
  }

  // Newest time among valid checkpoints at lower seqs: a later checkpoint may not be older.
  let newest = ''
  const checkCheckpoints = (seq: number): Failure | undefined => {
    for (const n of checkpointsAt.get(seq) ?? []) {
      const note = n.note as CheckpointNote
      if (!trusted(n)) return { seq, reason: 'signature', detail: 'checkpoint is not signed by a trusted key' }
      if (note.head !== h.toString('hex')) return { seq, reason: 'signature', detail: 'checkpoint head does not match the chain' }
      if (note.time < newest) return { seq, reason: 'signature', detail: 'replayed checkpoint: older than a checkpoint at a lower seq' }
      newest = note.time
      result.checkpoints++
      result.verified_through = seq
    }
    return undefined
  }

  let seq = from
  while (seq <= to) {
    const skipNotes = skipsAt.get(seq) ?? []
    const untrustedSkip = skipNotes.find((n) => !trusted(n))
    if (untrustedSkip !== undefined) return fail({ seq, reason: 'signature', detail: 'skip note is not signed by a trusted key' })
    const skip = skipNotes.map((n) => n.note as SkipNote).find((s) => s.prev === h.toString('hex'))
    if (skip !== undefined) {
      result.skips.push({ from: skip.from, to: skip.to, reason: skip.reason })
      h = Buffer.from(skip.head, 'hex')
      const end = Math.min(skip.to, to)
      result.chained_through = end
      // A signed skip binds both h_{from-1} (prev) and h_to (head): it anchors everything before it.
      result.verified_through = end
      if (skip.to > to) break
      const bad = checkCheckpoints(skip.to)
      if (bad !== undefined) return fail(bad)
      seq = skip.to + 1
      continue
    }
    const here = bySeq.get(seq)
    if (here === undefined) {
      const detail = skipNotes.length > 0 ? 'no stored event, and the skip note here does not link to the chain (prev differs)' : 'no stored event at this seq'
      return fail({ seq, reason: 'missing', detail })
    }
    if (here.length > 1) return fail({ seq, reason: 'reordered', detail: `${here.length} stored events claim this seq` })
    const row = here[0]!
    if (!servedMatchesRaw(row.event, row.raw)) return fail({ seq, reason: 'altered', detail: 'stored columns differ from the bytes received' })
    const next = chainHash(producerId, lane, seq, h, eventDigest(row.raw))
    if (typeof row.hash !== 'string' || next.toString('hex') !== row.hash) {
      if (belongsElsewhere(producerId, lane, seq, h, row, bySeq)) return fail({ seq, reason: 'reordered', detail: 'the stored event here belongs at another seq; another stored event links here' })
      return fail({ seq, reason: 'altered', detail: 'the bytes received do not hash to the stored chain hash' })
    }
    h = next
    result.chained_through = seq
    const bad = checkCheckpoints(seq)
    if (bad !== undefined) return fail(bad)
    seq++
  }
  return result
}

// Only at the first failure: is there a stored row at another seq whose own bytes and hash link at this seq?
function belongsElsewhere (producerId: string, lane: number, seq: number, h: Buffer, row: ChainRow, bySeq: ReadonlyMap<number, readonly ChainRow[]>): boolean {
  for (const [other, list] of bySeq) {
    if (other === seq) continue
    for (const candidate of list) {
      if (candidate === row || typeof candidate.raw !== 'string' || typeof candidate.hash !== 'string') continue
      if (chainHash(producerId, lane, seq, h, eventDigest(candidate.raw)).toString('hex') === candidate.hash) return true
    }
  }
  return false
}

function startOf (seq: number, notes: readonly ParsedNote[], trusted: (n: ParsedNote) => boolean, rows: readonly ChainRow[] | undefined): Buffer | undefined {
  for (const n of notes) {
    const at = n.note.kind === 'checkpoint' ? n.note.seq : n.note.to
    if (at === seq && trusted(n)) return Buffer.from(n.note.head, 'hex')
  }
  // An unanchored start is safe: a signed head later on matches only if this hash (and every row after it) is genuine.
  const row = rows?.length === 1 ? rows[0] : undefined
  return typeof row?.hash === 'string' && HEX64.test(row.hash) ? Buffer.from(row.hash, 'hex') : undefined
}

function aboutLane (n: ParsedNote, producerId: string, lane: number): boolean {
  const note = (n as Partial<ParsedNote> | null)?.note
  if (typeof note !== 'object' || note === null || note.producerId !== producerId || note.lane !== lane) return false
  if (typeof note.head !== 'string' || !HEX64.test(note.head)) return false
  if (note.kind === 'checkpoint') return Number.isSafeInteger(note.seq) && note.seq >= 1 && typeof note.time === 'string'
  if (note.kind === 'skip') return Number.isSafeInteger(note.from) && Number.isSafeInteger(note.to) && note.from >= 1 && note.to >= note.from && typeof note.prev === 'string'
  return false
}

function highestSeq (rows: readonly ChainRow[], notes: readonly ParsedNote[]): number {
  let max = 0
  for (const row of rows) {
    const seq = (row as Partial<ChainRow> | null)?.seq
    if (typeof seq === 'number' && Number.isSafeInteger(seq) && seq > max) max = seq
  }
  for (const n of notes) max = Math.max(max, n.note.kind === 'checkpoint' ? n.note.seq : n.note.to)
  return max
}

function safeVerifies (n: ParsedNote, key: KeyObject): boolean {
  try {
    return noteVerifies(n, key)
  } catch {
    return false
  }
}

function describe (value: unknown): string {
  return typeof value === 'number' ? String(value) : typeof value
}
