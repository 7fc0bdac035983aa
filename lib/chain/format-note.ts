/**
 * Writing a note: the body text of a checkpoint or skip, each field checked
 * so that what is written parses back to the same note (lib/chain/parse-note.ts
 * reads the same grammar, from lib/chain/signed-note.ts).
 */
import { NoteFormatError } from '../errors.js'
import { LOWERCASE_UUID } from '../protocol/wire.js'
import { HEX64 } from './chain-hash.js'
import { isNoteTime, MAX_LANE, NOTE_HEADER, REASON, type TrailNote } from './signed-note.js'

/**
 * The unsigned text of a note: its body lines, then the empty line.
 *
 * @param note - the checkpoint or skip
 * @returns the body followed by "\n"
 * @throws {@link NoteFormatError} when a field of the note is out of range
 * @example
 * ```ts
 * const text = formatNote({ kind: 'skip', producerId, lane: 0, from: 5, to: 9, prev, head, reason: 'rejected', time })
 * ```
 */
export function formatNote (note: TrailNote): string {
  return noteBody(note) + '\n'
}

/**
 * A note's body lines, each ending in "\n": the bytes its signature covers.
 * @throws {@link NoteFormatError} when a field of the note is out of range
 * @internal
 */
export function noteBody (note: TrailNote): string {
  // Read as a loose record: a caller's object (or JSON) may lack fields the type promises.
  const n = note as unknown as Readonly<Record<string, unknown>>
  const common = `producer ${checked(n.producerId, isUuid, 'producer')}\nlane ${checked(n.lane, isLane, 'lane')}\n`
  if (n.kind === 'checkpoint') {
    return `${NOTE_HEADER}checkpoint\n${common}seq ${checked(n.seq, isSeq, 'seq')}\nhead ${checked(n.head, isHex, 'head')}\ntime ${checked(n.time, isNoteTime, 'time')}\n`
  }
  if (n.kind === 'skip') {
    const from = checked(n.from, isSeq, 'from')
    const to = checked(n.to, isSeq, 'to')
    if (to < from) throw new NoteFormatError(`A skip's to (${to}) is below its from (${from})`)
    return `${NOTE_HEADER}skip\n${common}from ${from}\nto ${to}\nprev ${checked(n.prev, isHex, 'prev')}\nhead ${checked(n.head, isHex, 'head')}\n` +
      `reason ${checked(n.reason, isReason, 'reason')}\ntime ${checked(n.time, isNoteTime, 'time')}\n`
  }
  throw new NoteFormatError('A note is a checkpoint or a skip')
}

function checked<T> (value: unknown, ok: (v: unknown) => v is T, field: string): T {
  if (!ok(value)) throw new NoteFormatError(`Invalid ${field} in note`)
  return value
}

function isUuid (v: unknown): v is string { return typeof v === 'string' && LOWERCASE_UUID.test(v) }
function isHex (v: unknown): v is string { return typeof v === 'string' && HEX64.test(v) }
function isReason (v: unknown): v is string { return typeof v === 'string' && REASON.test(v) }
function isLane (v: unknown): v is number { return Number.isInteger(v) && (v as number) >= 0 && (v as number) <= MAX_LANE }
function isSeq (v: unknown): v is number { return Number.isSafeInteger(v) && (v as number) >= 1 }
