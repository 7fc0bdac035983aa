/**
 * Reading notes: one note or a file of them, parsed strictly against the
 * grammar of lib/chain/signed-note.ts, so that one text has one meaning.
 * Signatures are split out but not verified (lib/chain/note-signature.ts
 * does that).
 */
import { NoteFormatError } from '../errors.js'
import { LOWERCASE_UUID } from '../protocol/wire.js'
import { HEX64 } from './chain-hash.js'
import { isNoteTime, KEY_NAME, MAX_LANE, NOTE_HEADER, REASON, SIGNATURE_DASH, type NoteSignature, type ParsedNote, type TrailNote } from './signed-note.js'

const MAX_NOTE_BYTES = 4096
const MAX_SIGNATURES = 16
const INTEGER = /^(0|[1-9][0-9]{0,15})$/
const BASE64_68 = /^[A-Za-z0-9+/]{91}=$/

/**
 * Parses one note, strictly.
 *
 * @param text - the note text, signature lines included
 * @returns the note, its body and its signature lines (not verified)
 * @throws {@link NoteFormatError} for anything malformed
 * @example
 * ```ts
 * const parsed = parseNote(text)
 * if (!noteVerifies(parsed, publicKeyPem)) throw new Error('untrusted note')
 * ```
 */
export function parseNote (text: string): ParsedNote {
  if (typeof text !== 'string') throw new NoteFormatError('A note must be a string')
  const [parsed, end] = parseAt(text, 0)
  if (end !== text.length) throw new NoteFormatError('Unexpected text after the signature lines')
  return parsed
}

/**
 * Parses a file of concatenated notes (each note followed by its signature lines).
 *
 * @param text - the file's text; empty for no notes
 * @returns the notes in file order
 * @throws {@link NoteFormatError} for any malformed note, or anything between notes
 * @example
 * ```ts
 * const notes = parseNotes(fs.readFileSync('trail.notes', 'utf8'))
 * ```
 */
export function parseNotes (text: string): ParsedNote[] {
  if (typeof text !== 'string') throw new NoteFormatError('Notes must be a string')
  const notes: ParsedNote[] = []
  let at = 0
  while (at < text.length) {
    const [parsed, end] = parseAt(text, at)
    notes.push(parsed)
    at = end
  }
  return notes
}

// Parses the note starting at `start`; returns it and the offset just past its last signature line.
function parseAt (text: string, start: number): [ParsedNote, number] {
  const limit = Math.min(text.length, start + MAX_NOTE_BYTES + 1)
  const bodyEnd = text.indexOf('\n\n', start)
  if (bodyEnd < 0 || bodyEnd >= limit) throw new NoteFormatError(text.length - start > MAX_NOTE_BYTES ? 'Note larger than 4 KiB' : 'A note ends with an empty line after its body')
  const body = text.slice(start, bodyEnd + 1)
  const note = parseBody(body)
  let at = bodyEnd + 2
  const signatures: NoteSignature[] = []
  while (at < text.length && text.startsWith(SIGNATURE_DASH, at)) {
    const eol = text.indexOf('\n', at)
    if (eol < 0 || eol >= start + MAX_NOTE_BYTES + 1) throw new NoteFormatError('A signature line ends with "\\n"')
    if (signatures.length === MAX_SIGNATURES) throw new NoteFormatError(`More than ${MAX_SIGNATURES} signature lines`)
    signatures.push(parseSignature(text.slice(at + SIGNATURE_DASH.length, eol)))
    at = eol + 1
  }
  const noteText = text.slice(start, at)
  if (Buffer.byteLength(noteText, 'utf8') > MAX_NOTE_BYTES) throw new NoteFormatError('Note larger than 4 KiB')
  if (at < text.length && !text.startsWith(NOTE_HEADER, at)) throw new NoteFormatError('Unexpected line after a note\'s signature lines')
  return [{ note, text: noteText, body, signatures }, at]
}

function parseSignature (line: string): NoteSignature {
  const space = line.indexOf(' ')
  const keyName = space < 0 ? '' : line.slice(0, space)
  const encoded = space < 0 ? '' : line.slice(space + 1)
  if (!KEY_NAME.test(keyName)) throw new NoteFormatError('Invalid key name on a signature line')
  if (!BASE64_68.test(encoded)) throw new NoteFormatError('A signature line carries base64 of 68 bytes (key id and signature)')
  const bytes = Buffer.from(encoded, 'base64')
  // The regex fixes the length; re-encoding refuses non-canonical trailing bits.
  if (bytes.length !== 68 || bytes.toString('base64') !== encoded) throw new NoteFormatError('Non-canonical base64 on a signature line')
  return { keyName, keyId: bytes.subarray(0, 4), signature: bytes.subarray(4) }
}

function parseBody (body: string): TrailNote {
  if (body.includes('\r')) throw new NoteFormatError('A note has "\\n" line endings only')
  const lines = body.slice(0, -1).split('\n')
  const kind = lines[0] === `${NOTE_HEADER}checkpoint` ? 'checkpoint' : lines[0] === `${NOTE_HEADER}skip` ? 'skip' : undefined
  if (kind === undefined) throw new NoteFormatError('A note starts with "audit-stream/v1 checkpoint" or "audit-stream/v1 skip"')
  const keys = kind === 'checkpoint'
    ? ['producer', 'lane', 'seq', 'head', 'time']
    : ['producer', 'lane', 'from', 'to', 'prev', 'head', 'reason', 'time']
  if (lines.length !== keys.length + 1) throw new NoteFormatError(`A ${kind} note has exactly ${keys.length + 1} body lines, got ${lines.length}`)
  const values = new Map<string, string>()
  keys.forEach((key, i) => {
    const line = lines[i + 1]!
    if (!line.startsWith(key + ' ')) throw new NoteFormatError(`Line ${i + 2} of a ${kind} note is "${key} <value>"`)
    values.set(key, line.slice(key.length + 1))
  })
  const text = (key: string, ok: (v: string) => boolean): string => {
    const v = values.get(key)!
    if (!ok(v)) throw new NoteFormatError(`Invalid ${key} in note`)
    return v
  }
  const int = (key: string, min: number, max: number): number => {
    const v = text(key, (s) => INTEGER.test(s))
    const n = Number(v)
    if (!Number.isSafeInteger(n) || n < min || n > max) throw new NoteFormatError(`Invalid ${key} in note: out of range`)
    return n
  }
  const producerId = text('producer', (s) => LOWERCASE_UUID.test(s))
  const lane = int('lane', 0, MAX_LANE)
  if (kind === 'checkpoint') {
    return { kind, producerId, lane, seq: int('seq', 1, Number.MAX_SAFE_INTEGER), head: text('head', (s) => HEX64.test(s)), time: text('time', isNoteTime) }
  }
  const from = int('from', 1, Number.MAX_SAFE_INTEGER)
  const to = int('to', from, Number.MAX_SAFE_INTEGER)
  return {
    kind, producerId, lane, from, to,
    prev: text('prev', (s) => HEX64.test(s)),
    head: text('head', (s) => HEX64.test(s)),
    reason: text('reason', (s) => REASON.test(s)),
    time: text('time', isNoteTime)
  }
}
