/**
 * The verifier: recomputes one lane's chain over what a reader is served
 * and checks it against the signed notes. The server's
 * `GET /api/v1/audit/verify` and `audit-stream verify` both run it.
 */
import type { KeyObject } from 'node:crypto'
import { GENESIS, chainHash, eventDigest } from './chain-hash.js'
import { noteVerifies, type CheckpointNote, type ParsedNote, type SkipNote } from './signed-note.js'
import { servedMatchesRaw } from './served-form.js'

/**
 * One stored event of a lane, as the server holds it.
 *
 * @example
 * ```ts
 * const row: ChainRow = { seq: 1, hash: 'ab12…', raw: '{"version":"1.0",…}', event: { event_id: '…', version: '1.0' } }
 * ```
 */
export interface ChainRow {
  /** Its seq in the lane. */
  readonly seq: number
  /** The chain hash stored with it, lowercase hex. */
  readonly hash: string
  /** The exact JSON the server received. */
  readonly raw: string
  /** The event as the server serves it. */
  readonly event: Record<string, unknown>
}

/**
 * Why verification stopped: an event missing, stored bytes or columns
 * altered, events reordered, or a note whose signature or head does not match.
 */
export type VerifyReason = 'missing' | 'altered' | 'reordered' | 'signature'

/**
 * What a verification found for one lane.
 *
 * @example
 * ```ts
 * if (result.first_bad_seq !== undefined) console.error(`lane ${result.lane}: ${result.reason} at seq ${result.first_bad_seq}`)
 * ```
 */
export interface VerifyResult {
  /** The producer. */
  producer_id: string
  /** The lane. */
  lane: number
  /** First seq verified. */
  from: number
  /** Last seq asked for. */
  to: number
  /**
   * The highest seq through which every event is present, intact and
   * linked (or skipped by a valid skip note) and which a valid signed note
   * anchors; `from - 1` when none does.
   */
  verified_through: number
  /** The highest seq through which the chain recomputes, anchored or not. */
  chained_through: number
  /** The first seq that failed, when one did. */
  first_bad_seq?: number
  /** Why it failed. */
  reason?: VerifyReason
  /** What failed, in words. */
  detail?: string
  /** Ranges dead-lettered by the producer and declared by skip notes. */
  skips: Array<{ from: number, to: number, reason: string }>
  /** Valid checkpoints met. */
  checkpoints: number
}

/**
 * What {@link verifyChain} checks.
 *
 * @example
 * ```ts
 * verifyChain({ producerId, lane: 0, rows, notes: parseNotes(text), publicKeys: [publicKeyOf(pem)] })
 * ```
 */
export interface VerifyInput {
  /** The producer. */
  readonly producerId: string
  /** The lane. */
  readonly lane: number
  /** First seq to verify. @defaultValue 1 */
  readonly from?: number
  /** Last seq to verify. @defaultValue the highest seq of the rows and notes given */
  readonly to?: number
  /** h_{from-1} in hex; required unless `from` is 1 (GENESIS). */
  readonly start?: string
  /** The lane's stored events in stored order (by seq). */
  readonly rows: readonly ChainRow[]
  /** The lane's notes. */
  readonly notes: readonly ParsedNote[]
  /** Trusted keys: when given, a note counts only if one of them signed it. */
  readonly publicKeys?: readonly KeyObject[]
}

/**
 * Verifies one lane. Never throws for bad data: hostile rows or notes give
 * a failed result. The walk is bounded by the rows and notes given, not by `to`.
 *
 * @param input - the lane, its rows and notes, and the trusted keys
 * @returns what was verified and, if anything failed, the first bad seq and why
 * @example
 * ```ts
 * const result = verifyChain({ producerId, lane, rows, notes })
 * assert.equal(result.first_bad_seq, undefined)
 * ```
 */
export function verifyChain (input: VerifyInput): VerifyResult {
  const { producerId, lane } = input
  const from = safe(input.from) ? Math.max(1, input.from!) : 1
  const mine = input.notes.filter((n) => n.note.producerId === producerId && n.note.lane === lane)
  const highestNote = Math.max(0, ...mine.map((n) => n.note.kind === 'skip' ? n.note.to : n.note.seq))
  const highestRow = Math.max(0, ...input.rows.map((r) => safe(r.seq) ? r.seq : 0))
  const to = safe(input.to) ? input.to! : Math.max(highestNote, highestRow)
  const result: VerifyResult = { producer_id: producerId, lane, from, to, verified_through: from - 1, chained_through: from - 1, skips: [], checkpoints: 0 }
  const fail = (seq: number, reason: VerifyReason, detail: string): VerifyResult => Object.assign(result, { first_bad_seq: seq, reason, detail })

  const trusted = (n: ParsedNote): boolean => input.publicKeys === undefined
    ? n.signatures.length > 0
    : input.publicKeys.some((key) => safeVerifies(n, key))
  // Rows by seq; a seq stored twice is a reordering.
  const bySeq = new Map<number, ChainRow>()
  for (const row of input.rows) {
    if (!safe(row.seq)) return fail(from, 'altered', 'a stored row has no valid seq')
    if (bySeq.has(row.seq)) return fail(row.seq, 'reordered', 'two stored events have this seq')
    bySeq.set(row.seq, row)
  }
  const skips = new Map<number, ParsedNote & { note: SkipNote }>()
  const checkpoints = new Map<number, Array<ParsedNote & { note: CheckpointNote }>>()
  for (const n of mine) {
    if (n.note.kind === 'skip') skips.set(n.note.from, n as ParsedNote & { note: SkipNote })
    else {
      const list = checkpoints.get(n.note.seq) ?? []
      list.push(n as ParsedNote & { note: CheckpointNote })
      checkpoints.set(n.note.seq, list)
    }
  }

  let h: string
  if (from === 1) h = GENESIS.toString('hex')
  else if (input.start !== undefined && /^[0-9a-f]{64}$/.test(input.start)) h = input.start
  else {
    const anchor = checkpoints.get(from - 1)?.find(trusted)
    if (anchor === undefined) return fail(from, 'signature', `no start hash: no valid checkpoint at seq ${from - 1}`)
    h = anchor.note.head
  }
  let latestTime = ''
  const visit = (seq: number): VerifyResult | undefined => {
    for (const cp of checkpoints.get(seq) ?? []) {
      if (!trusted(cp)) return fail(seq, 'signature', input.publicKeys === undefined ? 'an unsigned checkpoint' : 'a checkpoint not signed by a trusted key')
      if (cp.note.head !== h) return fail(seq, 'signature', 'the checkpoint head does not match the chain')
      if (cp.note.time < latestTime) return fail(seq, 'signature', 'a checkpoint older than one at a lower seq (a replayed checkpoint)')
      latestTime = cp.note.time
      result.checkpoints++
      result.verified_through = seq
    }
    return undefined
  }

  let seq = from
  while (seq <= to) {
    const skip = skips.get(seq)
    if (skip !== undefined) {
      if (!trusted(skip)) return fail(seq, 'signature', input.publicKeys === undefined ? 'an unsigned skip note' : 'a skip note not signed by a trusted key')
      if (skip.note.prev !== h) return fail(seq, 'signature', 'the skip note does not continue the chain')
      result.skips.push({ from: skip.note.from, to: skip.note.to, reason: skip.note.reason })
      for (let s = skip.note.from; s <= skip.note.to && s <= to; s++) {
        if (bySeq.has(s)) return fail(s, 'reordered', 'an event is stored inside a skipped range')
      }
      h = skip.note.head
      seq = skip.note.to
      result.chained_through = Math.min(seq, to)
      result.verified_through = Math.min(seq, to)
      const bad = visit(seq)
      if (bad !== undefined) return bad
      seq++
      continue
    }
    const row = bySeq.get(seq)
    if (row === undefined) {
      // Nothing stored from here on and no note past here: the lane simply ends.
      if (seq > highestRow && seq > highestNote) break
      return fail(seq, 'missing', 'no event is stored at this seq')
    }
    if (!servedMatchesRaw(row.event, row.raw)) return fail(seq, 'altered', 'the stored columns differ from the bytes received')
    const digest = eventDigest(row.raw)
    const computed = chainHash(producerId, lane, seq, Buffer.from(h, 'hex'), digest).toString('hex')
    if (computed !== row.hash) {
      return fail(seq, linksElsewhere(row, digest, seq) ? 'reordered' : 'altered',
        'the chain does not recompute over the stored bytes')
    }
    h = computed
    result.chained_through = seq
    const bad = visit(seq)
    if (bad !== undefined) return bad
    seq++
  }
  return result

  // True when the row's stored hash links the row at some other seq: it was moved, not edited.
  function linksElsewhere (row: ChainRow, digest: Buffer, at: number): boolean {
    for (const other of bySeq.values()) {
      const s = other.seq + 1
      if (s === at || !/^[0-9a-f]{64}$/.test(other.hash)) continue
      if (chainHash(producerId, lane, s, Buffer.from(other.hash, 'hex'), digest).toString('hex') === row.hash) return true
    }
    return from === 1 && at !== 1 && chainHash(producerId, lane, 1, GENESIS, digest).toString('hex') === row.hash
  }
}

function safe (n: number | undefined): boolean {
  return n !== undefined && Number.isSafeInteger(n) && n >= 1
}

function safeVerifies (note: ParsedNote, key: KeyObject): boolean {
  try {
    return noteVerifies(note, key)
  } catch {
    return false
  }
}
