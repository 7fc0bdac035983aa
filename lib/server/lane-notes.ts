/**
 * `POST /api/v1/audit/checkpoints`: storing a producer's signed notes.
 *
 * Which key a signed note must verify against: one of the server's trusted
 * keys (`trailPublicKeys`) when it has any; otherwise the key pinned for the
 * producer, which its first signed note pins (from the body's `public_key`).
 * With a key to check against (trusted, or pinned), an unsigned note is
 * refused; before that, unsigned notes (a producer with no signing key) are
 * stored, and the verifier treats them as unsigned.
 *
 * One request is one transaction: every note is stored, or none. A
 * checkpoint is stored once per (producer, lane, seq, text). A skip moves the
 * lane like a batch, under the lane's row lock (see lane-state.ts).
 */
import { createHash, type KeyObject } from 'node:crypto'
import { noteVerifies, publicKeyOf } from '../chain/note-signature.js'
import { parseNote } from '../chain/parse-note.js'
import type { ParsedNote } from '../chain/signed-note.js'
import type { Database, SqlClient } from './database.js'
import { advanceLane, lockLane, sequenceConflict, sequenceGap } from './lane-state.js'
import { HttpProblem } from './problem.js'
import { INT32_MAX, NOTE_REFUSED } from '../protocol/wire.js'

/** Most notes in one request. @internal */
export const MAX_NOTES = 1_000
/** Longest note text accepted before parsing, in characters (a note is at most 4 KiB). */
const MAX_NOTE_CHARS = 8_192

/** The notes of a request, parsed and checked for shape; nothing verified yet. @internal */
export interface NotesRequest {
  readonly notes: readonly ParsedNote[]
  /** The body's `public_key`, when given. */
  readonly publicKey: KeyObject | undefined
}

function badField (field: string, detail: string): HttpProblem {
  return new HttpProblem(400, 'Bad Request', `invalid ${field}: ${detail}`, { field_errors: { [field]: detail } })
}

function refused (detail: string): HttpProblem {
  return new HttpProblem(422, 'Unprocessable Entity', detail, { type: NOTE_REFUSED })
}

/**
 * Checks the body's shape and parses every note.
 * @internal
 * @throws {@link HttpProblem} 400 naming the field or the note at fault
 */
export function parseNotesRequest (value: unknown): NotesRequest {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new HttpProblem(400, 'Bad Request', 'the body must be a JSON object with `notes`')
  const body = value as Record<string, unknown>
  const texts = body.notes
  if (!Array.isArray(texts) || texts.length === 0) throw badField('notes', 'a non-empty array of note texts')
  if (texts.length > MAX_NOTES) throw badField('notes', `at most ${MAX_NOTES} notes`)
  const notes: ParsedNote[] = []
  for (const [i, text] of texts.entries()) {
    if (typeof text !== 'string' || text.length > MAX_NOTE_CHARS) throw badField(`notes[${i}]`, 'a note text of at most 4 KiB')
    let parsed: ParsedNote
    try {
      parsed = parseNote(text)
    } catch (err) {
      throw badField(`notes[${i}]`, `not a note: ${(err as Error).message}`)
    }
    if (parsed.note.lane > INT32_MAX) throw badField(`notes[${i}]`, `lane above ${INT32_MAX}`)
    notes.push(parsed)
  }
  let publicKey: KeyObject | undefined
  if (body.public_key !== undefined) {
    if (typeof body.public_key !== 'string' || body.public_key.length > MAX_NOTE_CHARS) throw badField('public_key', 'an Ed25519 public key in SPKI PEM')
    // publicKeyOf would take a private key too; one sent over the wire is a mistake worth refusing.
    if (body.public_key.includes('PRIVATE KEY')) throw badField('public_key', 'a public key, not a private one')
    try {
      publicKey = publicKeyOf(body.public_key)
    } catch {
      throw badField('public_key', 'an Ed25519 public key in SPKI PEM')
    }
  }
  return { notes, publicKey }
}

/** A key's SPKI PEM, the form keys are pinned and compared in. @internal */
export function spkiPem (key: KeyObject): string {
  return key.export({ type: 'spki', format: 'pem' }).toString()
}

// Some signature line verifies with one of `keys`, under its own key name.
function signedBy (parsed: ParsedNote, keys: readonly KeyObject[]): boolean {
  return parsed.signatures.some((s) => keys.some((key) => noteVerifies(parsed, key, s.keyName)))
}

/**
 * Stores the notes in one transaction and returns how many the request
 * holds (each is stored now, or was already).
 * @internal
 * @throws {@link HttpProblem} 422 for a signature that does not verify or a key other than the pinned one; 409 for a skip the lane refuses
 */
export async function storeNotes (db: Database, request: NotesRequest, trusted: readonly KeyObject[]): Promise<number> {
  return db.transaction(async (tx) => {
    for (const parsed of request.notes) {
      await checkSignature(tx, parsed, request.publicKey, trusted)
      if (parsed.note.kind === 'skip') await applySkip(tx, parsed)
      else await insertNote(tx, parsed, null, parsed.note.seq)
    }
    return request.notes.length
  })
}

async function checkSignature (tx: SqlClient, parsed: ParsedNote, given: KeyObject | undefined, trusted: readonly KeyObject[]): Promise<void> {
  const { producerId } = parsed.note
  const signed = parsed.signatures.length > 0
  if (trusted.length > 0) {
    if (!signed) throw refused('the server requires notes signed by a trusted key; this note is unsigned')
    if (!signedBy(parsed, trusted)) throw refused('the note is not signed by a key the server trusts')
    return
  }
  const pinned = await pinnedKey(tx, producerId)
  if (pinned !== undefined && given !== undefined && spkiPem(given) !== pinned) throw refused(`another public key is pinned for producer ${producerId}`)
  if (!signed) {
    if (pinned !== undefined) throw refused(`producer ${producerId} has a pinned key; its notes must be signed`)
    return
  }
  const key = pinned === undefined ? given : publicKeyOf(pinned)
  if (key === undefined) throw refused(`no key is pinned for producer ${producerId}; send its public_key with the first signed note`)
  if (!signedBy(parsed, [key])) throw refused('the note\'s signature does not verify with the producer\'s key')
  if (pinned === undefined) {
    // Two first notes at once: the second INSERT waits for the first's commit, then compares.
    await tx.query('INSERT INTO trail_producers (producer_id, public_key) VALUES ($1, $2) ON CONFLICT DO NOTHING', [producerId, spkiPem(key)])
    if (await pinnedKey(tx, producerId) !== spkiPem(key)) throw refused(`another public key is pinned for producer ${producerId}`)
  }
}

async function pinnedKey (tx: SqlClient, producerId: string): Promise<string | undefined> {
  const { rows } = await tx.query<{ public_key: string }>('SELECT public_key FROM trail_producers WHERE producer_id = $1', [producerId])
  return rows[0]?.public_key
}

// Stores the note unless the same text is stored for the same position; returns whether it was new.
async function insertNote (tx: SqlClient, parsed: ParsedNote, from: number | null, seq: number): Promise<boolean> {
  const { note } = parsed
  const hash = createHash('sha256').update(parsed.text).digest()
  const { rows } = await tx.query(
    `INSERT INTO trail_notes (producer_id, lane, kind, from_seq, seq, head, text, text_hash) VALUES ($1, $2, $3, $4, $5, decode($6, 'hex'), $7, $8)
       ON CONFLICT (producer_id, lane, kind, seq, text_hash) DO NOTHING RETURNING note_id`,
    [note.producerId, note.lane, note.kind, from, seq, note.head, parsed.text, hash]
  )
  return rows.length === 1
}

// A skip moves the lane from `from - 1` to `to` as a batch of those seqs would; the same skip again is a no-op.
async function applySkip (tx: SqlClient, parsed: ParsedNote): Promise<void> {
  const note = parsed.note
  if (note.kind !== 'skip') return
  const state = await lockLane(tx, note.producerId, note.lane)
  const hash = createHash('sha256').update(parsed.text).digest()
  const { rows } = await tx.query(
    "SELECT 1 FROM trail_notes WHERE producer_id = $1 AND lane = $2 AND kind = 'skip' AND seq = $3 AND text_hash = $4", [note.producerId, note.lane, note.to, hash]
  )
  if (rows.length > 0) return
  const expected = state.lastSeq + 1
  if (note.from > expected) throw sequenceGap(expected, note.from)
  if (note.from < expected) throw sequenceConflict(expected, `the skip starts at seq ${note.from}, which the lane already holds (last seq ${state.lastSeq})`)
  if (note.prev !== state.head) throw sequenceConflict(expected, `the skip's prev is not the lane's head at seq ${state.lastSeq}`)
  await advanceLane(tx, note.producerId, note.lane, note.to, note.head)
  await insertNote(tx, parsed, note.from, note.to)
}
