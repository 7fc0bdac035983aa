import { test } from 'node:test'
import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import { chainEvents, chainHash, eventDigest, GENESIS } from '../../lib/chain/chain-hash.js'
import { formatNote } from '../../lib/chain/format-note.js'
import { NoteSigner } from '../../lib/chain/note-signature.js'
import { parseNote } from '../../lib/chain/parse-note.js'
import type { ParsedNote } from '../../lib/chain/signed-note.js'
import { verifyChain, type ChainRow, type VerifyChainInput } from '../../lib/chain/verify-chain.js'
import { InvalidOptionError } from '../../lib/errors.js'
import { buildLane, checkpoint, LANE, PRODUCER, servedOf, timeOf } from '../helpers/lane.js'

const lane = buildLane(50, 10)
const keys = [lane.signer.publicKey]
type Over = { -readonly [K in keyof VerifyChainInput]?: VerifyChainInput[K] | undefined }
// `publicKeys: undefined` in `over` means no trusted keys at all.
const input = (over: Over = {}): VerifyChainInput => {
  const all: Over = { producerId: PRODUCER, lane: LANE, rows: lane.rows, notes: lane.notes, publicKeys: keys, ...over }
  if (all.publicKeys === undefined) delete all.publicKeys
  return all as VerifyChainInput
}
const withRow = (seq: number, row: Partial<ChainRow> | undefined): ChainRow[] =>
  lane.rows.flatMap((r) => r.seq !== seq ? [r] : row === undefined ? [] : [{ ...r, ...row }])

test('an untouched lane verifies through its last seq, anchored by its checkpoints', () => {
  const r = verifyChain(input())
  assert.deepEqual(r, { producer_id: PRODUCER, lane: LANE, from: 1, to: 50, verified_through: 50, chained_through: 50, skips: [], checkpoints: 5 })
})

test('without trusted keys the notes are taken as they are', () => {
  const r = verifyChain(input({ publicKeys: undefined }))
  assert.equal(r.verified_through, 50)
  assert.equal(r.first_bad_seq, undefined)
})

test('events after the last checkpoint chain but are not verified', () => {
  const r = verifyChain(input({ notes: lane.notes.filter((n) => n.note.kind === 'checkpoint' && n.note.seq <= 30) }))
  assert.equal(r.first_bad_seq, undefined)
  assert.equal(r.chained_through, 50)
  assert.equal(r.verified_through, 30)
})

test('an edited served column fails as altered at its seq, even with the raw bytes intact', () => {
  const row = lane.rows[16]!
  const r = verifyChain(input({ rows: withRow(17, { event: { ...row.event, event_outcome: 'failure' } }) }))
  assert.equal(r.first_bad_seq, 17)
  assert.equal(r.reason, 'altered')
  assert.equal(r.verified_through, 10)
  assert.equal(r.chained_through, 16)
})

test('edited raw bytes without a recomputed hash fail as altered at their seq', () => {
  const raw = lane.raws[16]!.replace('"success"', '"failure"')
  const r = verifyChain(input({ rows: withRow(17, { raw, event: servedOf(raw) }) }))
  assert.equal(r.first_bad_seq, 17)
  assert.equal(r.reason, 'altered')
  assert.match(r.detail!, /hash/)
})

test('a deleted event fails as missing at its seq', () => {
  const r = verifyChain(input({ rows: withRow(23, undefined) }))
  assert.equal(r.first_bad_seq, 23)
  assert.equal(r.reason, 'missing')
  assert.equal(r.verified_through, 20)
})

test('two rows with their seqs swapped fail as reordered at the lower seq', () => {
  const rows = lane.rows.map((r) => r.seq === 15 ? { ...r, seq: 17 } : r.seq === 17 ? { ...r, seq: 15 } : r)
  const r = verifyChain(input({ rows }))
  assert.equal(r.first_bad_seq, 15)
  assert.equal(r.reason, 'reordered')
  assert.equal(r.verified_through, 10)
})

test('two rows claiming one seq fail as reordered', () => {
  const r = verifyChain(input({ rows: [...lane.rows, { ...lane.rows[30]! }] }))
  assert.equal(r.first_bad_seq, 31)
  assert.equal(r.reason, 'reordered')
})

test('a chain recomputed after an edit is caught by the first checkpoint after the edit', () => {
  const raws = [...lane.raws]
  raws[24] = raws[24]!.replace('"success"', '"failure"')
  const all = chainEvents(PRODUCER, LANE, 1, GENESIS, raws)
  const rows = raws.map((raw, i) => ({ seq: i + 1, hash: all.subarray(i * 32, i * 32 + 32).toString('hex'), raw, event: servedOf(raw) }))
  const r = verifyChain(input({ rows }))
  assert.equal(r.chained_through, 30) // the stored hashes do link; only the signed head says otherwise
  assert.equal(r.first_bad_seq, 30)
  assert.equal(r.reason, 'signature')
  assert.match(r.detail!, /head does not match/)
  assert.ok(r.verified_through < 25)
  assert.equal(r.verified_through, 20)
})

test('a recomputed chain with checkpoints re-signed by an untrusted key fails at the first of them', () => {
  const forger = new NoteSigner(crypto.generateKeyPairSync('ed25519').privateKey)
  const notes = lane.notes.map((n) => n.note.kind === 'checkpoint' && n.note.seq >= 30 ? checkpoint(forger, n.note.seq, n.note.head) : n)
  const r = verifyChain(input({ notes }))
  assert.equal(r.first_bad_seq, 30)
  assert.equal(r.reason, 'signature')
  assert.match(r.detail!, /trusted key/)
  assert.equal(r.verified_through, 20)
})

test('a checkpoint older than a checkpoint at a lower seq fails as a replay', () => {
  const replayed = checkpoint(lane.signer, 40, lane.hashes[39]!, timeOf(5))
  const r = verifyChain(input({ notes: lane.notes.map((n) => n.note.kind === 'checkpoint' && n.note.seq === 40 ? replayed : n) }))
  assert.equal(r.first_bad_seq, 40)
  assert.equal(r.reason, 'signature')
  assert.match(r.detail!, /replayed/)
  assert.equal(r.verified_through, 30)
})

test('genuine checkpoints of an earlier chain, replayed over a rewritten one, fail at the first', () => {
  const other = buildLane(50, 10, lane.signer) // same key and producer, different event ids: same raws, so rewrite the raws
  const raws = other.raws.map((raw, i) => i >= 12 ? raw.replace('"workflow"', '"rewritten"') : raw)
  const all = chainEvents(PRODUCER, LANE, 1, GENESIS, raws)
  const rows = raws.map((raw, i) => ({ seq: i + 1, hash: all.subarray(i * 32, i * 32 + 32).toString('hex'), raw, event: servedOf(raw) }))
  const r = verifyChain(input({ rows, notes: lane.notes }))
  assert.equal(r.first_bad_seq, 20)
  assert.equal(r.reason, 'signature')
  assert.equal(r.verified_through, 10)
})

test('unsigned notes fail as signature when trusted keys are given', () => {
  const unsigned = lane.notes.map((n) => parseNote(formatNote(n.note)))
  const r = verifyChain(input({ notes: unsigned }))
  assert.equal(r.first_bad_seq, 10)
  assert.equal(r.reason, 'signature')
  assert.equal(r.verified_through, 0)
  assert.equal(verifyChain(input({ notes: unsigned, publicKeys: undefined })).verified_through, 50)
  assert.equal(verifyChain(input({ publicKeys: [] })).first_bad_seq, 10)
})

test('notes naming another producer or lane are ignored: they neither anchor nor fail', () => {
  const foreign = lane.notes.map((n) => n.note.kind === 'checkpoint'
    ? checkpoint(lane.signer, n.note.seq, n.note.head, n.note.time, n.note.seq === 20 ? '00000000-0000-4000-8000-000000000000' : PRODUCER, n.note.seq === 40 ? LANE + 1 : LANE)
    : n)
  const r = verifyChain(input({ notes: foreign }))
  assert.equal(r.first_bad_seq, undefined)
  assert.equal(r.checkpoints, 3)
  assert.equal(verifyChain(input({ notes: foreign.filter((n) => n.note.kind === 'checkpoint' && n.note.seq <= 20) })).verified_through, 10)
})

// A lane of 30 seqs in which 11..20 were dead-lettered: no rows there, a signed skip note from h_10 to h_20.
function laneWithSkip (sign = true): { rows: ChainRow[], notes: ParsedNote[] } {
  const raws = lane.raws.slice(0, 30)
  const all = chainEvents(PRODUCER, LANE, 1, GENESIS, raws)
  const hex = (seq: number): string => all.subarray((seq - 1) * 32, seq * 32).toString('hex')
  const rows = raws.map((raw, i) => ({ seq: i + 1, hash: hex(i + 1), raw, event: servedOf(raw) })).filter((r) => r.seq <= 10 || r.seq > 20)
  const skip = { kind: 'skip' as const, producerId: PRODUCER, lane: LANE, from: 11, to: 20, prev: hex(10), head: hex(20), reason: 'rejected', time: timeOf(20) }
  const skipNote = parseNote(sign ? lane.signer.sign(skip) : formatNote(skip))
  return { rows, notes: [checkpoint(lane.signer, 5, hex(5)), skipNote, checkpoint(lane.signer, 25, hex(25))] }
}

test('a signed skip over a range with no rows is listed, and verification goes on past it', () => {
  const { rows, notes } = laneWithSkip()
  const r = verifyChain(input({ rows, notes }))
  assert.equal(r.first_bad_seq, undefined)
  assert.deepEqual(r.skips, [{ from: 11, to: 20, reason: 'rejected' }])
  assert.equal(r.chained_through, 30)
  assert.equal(r.verified_through, 25)
  assert.equal(r.checkpoints, 2)
})

test('an unsigned skip fails as signature when trusted keys are given', () => {
  const { rows, notes } = laneWithSkip(false)
  const r = verifyChain(input({ rows, notes }))
  assert.equal(r.first_bad_seq, 11)
  assert.equal(r.reason, 'signature')
  assert.deepEqual(verifyChain(input({ rows, notes, publicKeys: undefined })).skips, [{ from: 11, to: 20, reason: 'rejected' }])
})

test('a skip whose prev is not the chain\'s head does not cover its range', () => {
  const { rows, notes } = laneWithSkip()
  const r = verifyChain(input({ rows: rows.filter((row) => row.seq !== 10), notes }))
  assert.equal(r.first_bad_seq, 10)
  assert.equal(r.reason, 'missing')
  const wrongPrev = notes.map((n) => n.note.kind === 'skip' ? parseNote(lane.signer.sign({ ...n.note, prev: 'ee'.repeat(32) })) : n)
  const r2 = verifyChain(input({ rows, notes: wrongPrev }))
  assert.equal(r2.first_bad_seq, 11)
  assert.equal(r2.reason, 'missing')
  assert.match(r2.detail!, /prev/)
})

test('a range from a later seq starts from the checkpoint before it, or from start', () => {
  const r = verifyChain(input({ from: 21, to: 35 }))
  assert.equal(r.verified_through, 30)
  assert.equal(r.chained_through, 35)
  assert.equal(r.first_bad_seq, undefined)
  const s = verifyChain(input({ from: 24, to: 40, start: lane.hashes[22]! }))
  assert.equal(s.verified_through, 40)
  const bad = verifyChain(input({ from: 24, to: 40, start: 'ab'.repeat(32) }))
  assert.equal(bad.first_bad_seq, 24)
  assert.equal(bad.reason, 'altered')
  const none = verifyChain(input({ from: 24, to: 40, rows: lane.rows.filter((row) => row.seq >= 24) }))
  assert.equal(none.first_bad_seq, 24)
  assert.equal(none.reason, 'missing')
})

test('an empty range verifies nothing and fails nothing', () => {
  assert.deepEqual(verifyChain({ producerId: PRODUCER, lane: LANE, rows: [], notes: [] }),
    { producer_id: PRODUCER, lane: LANE, from: 1, to: 0, verified_through: 0, chained_through: 0, skips: [], checkpoints: 0 })
})

test('a checkpoint beyond the stored rows makes the missing rows show', () => {
  const r = verifyChain(input({ rows: lane.rows.filter((row) => row.seq <= 45) }))
  assert.equal(r.to, 50)
  assert.equal(r.first_bad_seq, 46)
  assert.equal(r.reason, 'missing')
  assert.equal(r.verified_through, 40)
})

test('rows in any order verify as when sorted', () => {
  const shuffled = [...lane.rows].reverse()
  assert.deepEqual(verifyChain(input({ rows: shuffled })), verifyChain(input()))
})

test('hostile rows give a failure result, never an exception or an endless walk', () => {
  const cases: Array<[string, ChainRow[], Over]> = [
    ['a NaN seq', withRow(5, { seq: Number.NaN }), {}],
    ['a fractional seq', withRow(5, { seq: 5.5 }), {}],
    ['a string seq', withRow(5, { seq: '5' as unknown as number }), {}],
    ['raw that is not JSON', withRow(5, { raw: 'not json' }), {}],
    ['raw that is not a string', withRow(5, { raw: 42 as unknown as string }), {}],
    ['a hash that is not hex', withRow(5, { hash: 'zz' }), {}],
    ['a hash that is not a string', withRow(5, { hash: null as unknown as string }), {}],
    ['an event that is not an object', withRow(5, { event: null as unknown as Record<string, unknown> }), {}],
    ['a row that is null', [...lane.rows.slice(0, 4), null as unknown as ChainRow, ...lane.rows.slice(5)], {}],
    ['a huge to', lane.rows, { to: Number.MAX_SAFE_INTEGER }]
  ]
  for (const [what, rows, over] of cases) {
    const r = verifyChain(input({ rows, ...over }))
    assert.ok(r.first_bad_seq !== undefined && r.reason !== undefined, what)
    assert.ok(r.verified_through < (over.to ?? 50), what)
  }
  const huge = verifyChain(input({ to: Number.MAX_SAFE_INTEGER }))
  assert.equal(huge.first_bad_seq, 51)
  assert.equal(huge.reason, 'missing')
  assert.equal(huge.verified_through, 50)
})

test('hostile notes are ignored or fail, never throw', () => {
  const junk = [
    null, {}, { note: null }, { note: { kind: 'checkpoint', producerId: PRODUCER, lane: LANE, seq: Number.NaN, head: 'x', time: '' } },
    { note: { kind: 'checkpoint', producerId: PRODUCER, lane: LANE, seq: 10, head: lane.hashes[9]!, time: timeOf(10) }, body: 42, signatures: [null], text: '' }
  ] as unknown as ParsedNote[]
  const r = verifyChain(input({ notes: [...junk, ...lane.notes] }))
  assert.equal(r.first_bad_seq, 10)
  assert.equal(r.reason, 'signature')
  assert.equal(verifyChain(input({ notes: junk.slice(0, 4) })).verified_through, 0)
})

test('arguments out of range throw InvalidOptionError', () => {
  for (const over of [
    { producerId: 'nope' }, { lane: -1 }, { lane: 1.5 }, { from: 0 }, { from: Number.NaN }, { to: Number.NaN }, { to: 2 ** 60 },
    { from: 10, to: 5 }, { start: 'AB'.repeat(32) }, { start: 'ab' }, { publicKeys: [crypto.generateKeyPairSync('x25519').publicKey] }
  ] as Over[]) {
    assert.throws(() => verifyChain(input(over)), InvalidOptionError, JSON.stringify(over))
  }
})

test('the chain the verifier recomputes is the one chainHash defines', () => {
  // One link by hand, so verifyChain cannot agree with a wrong chainEvents.
  assert.equal(chainHash(PRODUCER, LANE, 1, GENESIS, eventDigest(lane.raws[0]!)).toString('hex'), lane.hashes[0])
})
