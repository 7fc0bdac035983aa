/**
 * Signed notes: the trail's signed statements about a lane, a checkpoint or
 * a skip, in the spirit of C2SP signed notes: body lines, an empty line, then
 * signature lines `— <keyname> <base64(keyid4 ‖ sig64)>`. The Ed25519
 * signature covers the body bytes (up to and including the last body line's
 * "\n"); keyid = SHA-256(keyname ‖ 0x0A ‖ 0x01 ‖ raw public key)[0..4].
 *
 * This module is what a note is: its types, and the grammar that the writing
 * side (lib/chain/format-note.ts, lib/chain/note-signature.ts) and the
 * reading side (lib/chain/parse-note.ts) share, so that the two cannot drift.
 * Parsing is strict so that one text has one meaning: exact line order, no
 * extra lines, canonical numbers, hex and times, "\n" only, 4 KiB at most.
 */

/**
 * A signed statement about a lane: a checkpoint or a skip.
 *
 * @example
 * ```ts
 * const note: TrailNote = { kind: 'checkpoint', producerId, lane: 0, seq: 1000, head, time: new Date().toISOString() }
 * ```
 */
export type TrailNote = CheckpointNote | SkipNote

/**
 * The lane's head hash at a seq, as the producer computed it.
 *
 * @example
 * ```ts
 * const cp: CheckpointNote = { kind: 'checkpoint', producerId, lane: 2, seq: 40, head: h40.toString('hex'), time: '2026-12-02T19:00:00.000Z' }
 * ```
 */
export interface CheckpointNote {
  /** Always `'checkpoint'`. */
  readonly kind: 'checkpoint'
  /** The producer's UUID (lowercase). */
  readonly producerId: string
  /** The lane. */
  readonly lane: number
  /** The seq the head is at, >= 1. */
  readonly seq: number
  /** h_seq in lowercase hex (64 characters). */
  readonly head: string
  /** When it was signed: ISO 8601 UTC with milliseconds. */
  readonly time: string
}

/**
 * A dead-lettered range `from..to` of a lane: the chain goes on from `head`.
 *
 * @example
 * ```ts
 * const skip: SkipNote = { kind: 'skip', producerId, lane: 1, from: 11, to: 20, prev: h10, head: h20, reason: 'rejected', time }
 * ```
 */
export interface SkipNote {
  /** Always `'skip'`. */
  readonly kind: 'skip'
  /** The producer's UUID (lowercase). */
  readonly producerId: string
  /** The lane. */
  readonly lane: number
  /** First skipped seq, >= 1. */
  readonly from: number
  /** Last skipped seq, >= from. */
  readonly to: number
  /** h_{from-1} in lowercase hex. */
  readonly prev: string
  /** h_to in lowercase hex, computed over the dead-lettered events' bytes. */
  readonly head: string
  /** The dead-letter reason (`rejected`, `exhausted`, `shutdown`, ...). */
  readonly reason: string
  /** When it was signed: ISO 8601 UTC with milliseconds. */
  readonly time: string
}

/**
 * One signature line of a note.
 *
 * @example
 * ```ts
 * for (const s of parsed.signatures) console.log(s.keyName, s.keyId.toString('hex'))
 * ```
 */
export interface NoteSignature {
  /** The key name on the line. */
  readonly keyName: string
  /** The 4-byte key id. */
  readonly keyId: Buffer
  /** The 64-byte Ed25519 signature. */
  readonly signature: Buffer
}

/**
 * A note as parsed: its meaning, its exact text and its signatures (not yet verified).
 *
 * @example
 * ```ts
 * const parsed: ParsedNote = parseNote(text)
 * if (parsed.note.kind === 'checkpoint') console.log(parsed.note.seq)
 * ```
 */
export interface ParsedNote {
  /** What the body says. */
  readonly note: TrailNote
  /** The whole note text, signature lines included. */
  readonly text: string
  /** The signed bytes: the body lines, each ending in "\n". */
  readonly body: string
  /** The signature lines, in order; empty for an unsigned note. */
  readonly signatures: readonly NoteSignature[]
}

/** The first line of every note, before its kind. @internal */
export const NOTE_HEADER = 'audit-stream/v1 '
/** What starts a signature line. @internal */
export const SIGNATURE_DASH = '\u2014 '
/** The largest lane number: a u32. @internal */
export const MAX_LANE = 2 ** 32 - 1
/** A dead-letter reason. @internal */
export const REASON = /^[a-z][a-z0-9_-]{0,63}$/
/**
 * A key name. C2SP: non-empty, without whitespace or '+'; ours is also
 * printable ASCII and bounded.
 * @internal
 */
export const KEY_NAME = /^[!-*,-~]{1,64}$/

const TIME = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$/

/**
 * Whether `v` is a note's time: ISO 8601 UTC with milliseconds, in the one
 * spelling `Date#toISOString` gives.
 * @internal
 */
export function isNoteTime (v: unknown): v is string {
  if (typeof v !== 'string' || !TIME.test(v)) return false
  const ms = Date.parse(v)
  return Number.isFinite(ms) && new Date(ms).toISOString() === v
}
