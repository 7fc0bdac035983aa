/**
 * Checkpoint and skip notes, in the spirit of C2SP signed notes: body lines,
 * an empty line, then signature lines `— <keyname> <base64(keyid4 ‖ sig64)>`.
 * The Ed25519 signature covers the body bytes (up to and including the last
 * body line's "\n"); keyid = SHA-256(keyname ‖ 0x0A ‖ 0x01 ‖ raw public key)[0..4].
 *
 * Parsing is strict so that one text has one meaning: exact line order, no
 * extra lines, canonical numbers, hex and times, "\n" only, 4 KiB at most.
 */
import crypto, { type KeyObject } from 'node:crypto'
import { InvalidOptionError, NoteFormatError } from '../errors.js'
import { LOWERCASE_UUID } from '../protocol/wire.js'

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

const HEADER = 'audit-stream/v1 '
const DASH = '\u2014 '
const DEFAULT_KEY_NAME = 'audit-stream'
const MAX_NOTE_BYTES = 4096
const MAX_SIGNATURES = 16
const MAX_U32 = 2 ** 32 - 1
const HEX64 = /^[0-9a-f]{64}$/
const INTEGER = /^(0|[1-9][0-9]{0,15})$/
const TIME = /^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\.[0-9]{3}Z$/
const REASON = /^[a-z][a-z0-9_-]{0,63}$/
// C2SP: a key name is non-empty, without whitespace or '+'; ours is also printable ASCII and bounded.
const KEY_NAME = /^[!-*,-~]{1,64}$/
const BASE64_68 = /^[A-Za-z0-9+/]{91}=$/

/**
 * Signs trail notes with one Ed25519 key.
 *
 * @example
 * ```ts
 * const { privateKey } = crypto.generateKeyPairSync('ed25519')
 * const signer = new NoteSigner(privateKey)
 * const text = signer.sign({ kind: 'checkpoint', producerId, lane: 0, seq: 1, head, time: new Date().toISOString() })
 * ```
 */
export class NoteSigner {
  /** The key name written on every signature line. */
  readonly keyName: string
  /** The 4-byte key id derived from the key name and the public key. */
  readonly keyId: Buffer
  /** The public half of the signing key. */
  readonly publicKey: KeyObject
  /** An Ed25519 private key, checked at construction. */
  readonly #privateKey: KeyObject

  /**
   * @param signingKey - an Ed25519 private `KeyObject` or PKCS#8 PEM string
   * @param keyName - the key name, `audit-stream` by default
   * @throws {@link InvalidOptionError} when the key is not an Ed25519 private key or the name is invalid
   */
  constructor (signingKey: KeyObject | string, keyName: string = DEFAULT_KEY_NAME) {
    this.#privateKey = privateKeyOf(signingKey)
    if (typeof keyName !== 'string' || !KEY_NAME.test(keyName)) {
      throw new InvalidOptionError('trail.keyName', 'a key name of 1 to 64 printable ASCII characters without spaces or "+"', keyName)
    }
    this.keyName = keyName
    this.publicKey = crypto.createPublicKey(this.#privateKey)
    this.keyId = keyIdOf(keyName, this.publicKey)
  }

  /**
   * The public key as an SPKI PEM, for `POST /api/v1/audit/checkpoints` and verifiers.
   *
   * @returns the PEM text
   * @example
   * ```ts
   * fs.writeFileSync('trail-key.pub.pem', signer.publicKeyPem())
   * ```
   */
  publicKeyPem (): string {
    return this.publicKey.export({ type: 'spki', format: 'pem' }).toString()
  }

  /**
   * The note's text with one signature line by this key.
   *
   * @param note - the checkpoint or skip
   * @returns the signed note text
   * @throws {@link NoteFormatError} when a field of the note is out of range
   * @example
   * ```ts
   * await fs.promises.appendFile('trail.notes', signer.sign(note))
   * ```
   */
  sign (note: TrailNote): string {
    const body = bodyOf(note)
    const signature = crypto.sign(null, Buffer.from(body, 'utf8'), this.#privateKey)
    return `${body}\n${DASH}${this.keyName} ${Buffer.concat([this.keyId, signature]).toString('base64')}\n`
  }
}

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
  return bodyOf(note) + '\n'
}

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

/**
 * Whether some signature line of the note is by this key and verifies over
 * its body. With `keyName`, only lines with that name count; without it, a
 * line of any name counts when its key id matches that name and this key.
 *
 * @param parsed - a parsed note
 * @param publicKey - the trusted key: public or private, PEM or `KeyObject`
 * @param keyName - the key name to require
 * @returns true when a signature verifies
 * @throws {@link InvalidOptionError} when the key is not an Ed25519 key
 * @example
 * ```ts
 * const trusted = parseNotes(file).filter((n) => noteVerifies(n, publicKeyPem))
 * ```
 */
export function noteVerifies (parsed: ParsedNote, publicKey: KeyObject | string, keyName?: string): boolean {
  const key = publicKeyOf(publicKey)
  const body = Buffer.from(parsed.body, 'utf8')
  for (const line of parsed.signatures) {
    if (keyName !== undefined && line.keyName !== keyName) continue
    if (!keyIdOf(line.keyName, key).equals(line.keyId)) continue
    if (crypto.verify(null, body, key, line.signature)) return true
  }
  return false
}

/**
 * The Ed25519 public key of a public or private key, PEM or `KeyObject`.
 *
 * @param key - an Ed25519 key
 * @returns the public `KeyObject`
 * @throws {@link InvalidOptionError} when the key is not an Ed25519 key
 * @example
 * ```ts
 * const pub = publicKeyOf(fs.readFileSync('trail-key.pub.pem', 'utf8'))
 * ```
 */
export function publicKeyOf (key: KeyObject | string): KeyObject {
  let pub: KeyObject
  try {
    pub = typeof key === 'string' ? crypto.createPublicKey(key) : key.type === 'public' ? key : crypto.createPublicKey(key)
  } catch (err) {
    throw new InvalidOptionError('publicKey', 'an Ed25519 key (PEM or KeyObject)', typeof key === 'string' ? 'a string that is not a key' : key, { cause: err })
  }
  if (pub.asymmetricKeyType !== 'ed25519') throw new InvalidOptionError('publicKey', 'an Ed25519 key', `a ${String(pub.asymmetricKeyType)} key`)
  return pub
}

function privateKeyOf (key: KeyObject | string): KeyObject {
  let priv: KeyObject
  try {
    priv = typeof key === 'string' ? crypto.createPrivateKey(key) : key
  } catch (err) {
    throw new InvalidOptionError('trail.signingKey', 'an Ed25519 private key (PKCS#8 PEM or KeyObject)', 'a string that is not a private key', { cause: err })
  }
  if (!(priv instanceof crypto.KeyObject) || priv.type !== 'private' || priv.asymmetricKeyType !== 'ed25519') {
    const got = priv instanceof crypto.KeyObject ? `a ${priv.type} ${String(priv.asymmetricKeyType ?? '')} key` : priv
    throw new InvalidOptionError('trail.signingKey', 'an Ed25519 private key (PKCS#8 PEM or KeyObject)', got)
  }
  return priv
}

function keyIdOf (keyName: string, publicKey: KeyObject): Buffer {
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x ?? '', 'base64url')
  return crypto.createHash('sha256').update(keyName, 'utf8').update(Buffer.of(0x0a, 0x01)).update(raw).digest().subarray(0, 4)
}

function bodyOf (note: TrailNote): string {
  // Read as a loose record: a caller's object (or JSON) may lack fields the type promises.
  const n = note as unknown as Readonly<Record<string, unknown>>
  const common = `producer ${checked(n.producerId, isUuid, 'producer')}\nlane ${checked(n.lane, isLane, 'lane')}\n`
  if (n.kind === 'checkpoint') {
    return `${HEADER}checkpoint\n${common}seq ${checked(n.seq, isSeq, 'seq')}\nhead ${checked(n.head, isHex, 'head')}\ntime ${checked(n.time, isTime, 'time')}\n`
  }
  if (n.kind === 'skip') {
    const from = checked(n.from, isSeq, 'from')
    const to = checked(n.to, isSeq, 'to')
    if (to < from) throw new NoteFormatError(`A skip's to (${to}) is below its from (${from})`)
    return `${HEADER}skip\n${common}from ${from}\nto ${to}\nprev ${checked(n.prev, isHex, 'prev')}\nhead ${checked(n.head, isHex, 'head')}\n` +
      `reason ${checked(n.reason, isReason, 'reason')}\ntime ${checked(n.time, isTime, 'time')}\n`
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
function isLane (v: unknown): v is number { return Number.isInteger(v) && (v as number) >= 0 && (v as number) <= MAX_U32 }
function isSeq (v: unknown): v is number { return Number.isSafeInteger(v) && (v as number) >= 1 }
function isTime (v: unknown): v is string {
  if (typeof v !== 'string' || !TIME.test(v)) return false
  const ms = Date.parse(v)
  return Number.isFinite(ms) && new Date(ms).toISOString() === v
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
  while (at < text.length && text.startsWith(DASH, at)) {
    const eol = text.indexOf('\n', at)
    if (eol < 0 || eol >= start + MAX_NOTE_BYTES + 1) throw new NoteFormatError('A signature line ends with "\\n"')
    if (signatures.length === MAX_SIGNATURES) throw new NoteFormatError(`More than ${MAX_SIGNATURES} signature lines`)
    signatures.push(parseSignature(text.slice(at + DASH.length, eol)))
    at = eol + 1
  }
  const noteText = text.slice(start, at)
  if (Buffer.byteLength(noteText, 'utf8') > MAX_NOTE_BYTES) throw new NoteFormatError('Note larger than 4 KiB')
  if (at < text.length && !text.startsWith(HEADER, at)) throw new NoteFormatError('Unexpected line after a note\'s signature lines')
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
  const kind = lines[0] === `${HEADER}checkpoint` ? 'checkpoint' : lines[0] === `${HEADER}skip` ? 'skip' : undefined
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
  const lane = int('lane', 0, MAX_U32)
  if (kind === 'checkpoint') {
    return { kind, producerId, lane, seq: int('seq', 1, Number.MAX_SAFE_INTEGER), head: text('head', (s) => HEX64.test(s)), time: text('time', isTime) }
  }
  const from = int('from', 1, Number.MAX_SAFE_INTEGER)
  const to = int('to', from, Number.MAX_SAFE_INTEGER)
  return {
    kind, producerId, lane, from, to,
    prev: text('prev', (s) => HEX64.test(s)),
    head: text('head', (s) => HEX64.test(s)),
    reason: text('reason', (s) => REASON.test(s)),
    time: text('time', isTime)
  }
}
