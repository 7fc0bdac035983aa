import assert from 'node:assert/strict'
import { createHash, createPrivateKey, generateKeyPairSync, randomUUID, sign } from 'node:crypto'
import { describe, test } from 'node:test'
import { GENESIS, chainEvents, chainHash, eventDigest } from '../../lib/chain/chain-hash.js'
import { laneOf } from '../../lib/lanes/lane-choice.js'
import { NoteSigner, noteVerifies } from '../../lib/chain/note-signature.js'
import { formatNote } from '../../lib/chain/format-note.js'
import { parseNote, parseNotes } from '../../lib/chain/parse-note.js'
import type { CheckpointNote } from '../../lib/chain/signed-note.js'
import { verifyChain, type ChainRow } from '../../lib/chain/verify-chain.js'
import { NoteFormatError } from '../../lib/errors.js'

describe('the chain hash', () => {
  test('SHA-256 of "abc" is the NIST value', () => {
    assert.equal(eventDigest('abc').toString('hex'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
  })

  test('one link equals SHA-256 over the documented 107-byte preimage, built here by hand', () => {
    const producer = '00000000-0000-4000-8000-000000000001'
    const preimage = Buffer.concat([
      Buffer.from('audit-stream/v1', 'ascii'),
      Buffer.from(producer.replaceAll('-', ''), 'hex'),
      Buffer.from([0, 0, 0, 1]), // lane 1, u32 BE
      Buffer.from([0, 0, 0, 0, 0, 0, 0, 1]), // seq 1, u64 BE
      Buffer.alloc(32), // h_0
      createHash('sha256').update('{"a":1}').digest()
    ])
    assert.equal(preimage.length, 107)
    const expected = createHash('sha256').update(preimage).digest('hex')
    // The same value from `sha256sum` over the bytes above.
    assert.equal(expected, '9ee20412ddcc2121327538d6aafb0578a2546358bd50451191f07f5a322122e8')
    assert.equal(chainHash(producer, 1, 1, GENESIS, eventDigest('{"a":1}')).toString('hex'), expected)
  })

  test('chainEvents links each event to the one before, as chainHash does one at a time', () => {
    const producer = randomUUID()
    const events = ['{"x":1}', '{"x":"é"}', '{"x":3}']
    const all = chainEvents(producer, 2, 5, GENESIS, events)
    let prev: Buffer = GENESIS
    events.forEach((json, k) => {
      prev = chainHash(producer, 2, 5 + k, prev, eventDigest(json))
      assert.deepEqual(all.subarray(k * 32, k * 32 + 32), prev)
    })
  })

  test('refuses a seq that is not a safe integer of at least 1, and a producer that is not a UUID', () => {
    assert.throws(() => chainHash(randomUUID(), 0, 0, GENESIS, GENESIS), { code: 'AUDIT_ERR_INVALID_OPTION' })
    assert.throws(() => chainHash(randomUUID(), 0, 2 ** 53, GENESIS, GENESIS), { code: 'AUDIT_ERR_INVALID_OPTION' })
    assert.throws(() => chainHash('not-a-uuid', 0, 1, GENESIS, GENESIS), { code: 'AUDIT_ERR_INVALID_OPTION' })
  })

  test('a correlation id always gets the same lane, below the lane count', () => {
    for (const id of ['rr-1', 'é-ü', randomUUID()]) {
      const lane = laneOf(id, 4)
      assert.ok(lane >= 0 && lane < 4)
      assert.equal(laneOf(id, 4), lane)
    }
  })
})

describe('signed notes', () => {
  test('Ed25519 through node:crypto signs RFC 8032 test 1 exactly', () => {
    const seed = Buffer.from('9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60', 'hex')
    const key = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' })
    assert.equal(sign(null, Buffer.alloc(0), key).toString('hex'),
      'e5564300c360ac729086e2cc806e828a84877f1eb8e5d974d873e065224901555fb8821590a33bacc61e39701cf9b46bd25bf5f0595bbe24655141438e7a100b')
    assert.equal(Buffer.from(new NoteSigner(key).publicKey.export({ format: 'jwk' }).x!, 'base64url').toString('hex'),
      'd75a980182b10ab7d54bfed3c964073a0ee172f3daa62325af021a68f707511a')
  })

  const checkpoint: CheckpointNote = { kind: 'checkpoint', producerId: randomUUID(), lane: 0, seq: 7, head: 'ab'.repeat(32), time: '2026-12-02T19:00:00.000Z' }

  test('a signed note parses back to what was signed and verifies with its key only', () => {
    const { privateKey } = generateKeyPairSync('ed25519')
    const other = generateKeyPairSync('ed25519')
    const signer = new NoteSigner(privateKey)
    const parsed = parseNote(signer.sign(checkpoint))
    assert.deepEqual(parsed.note, checkpoint)
    assert.equal(parsed.signatures.length, 1)
    assert.ok(noteVerifies(parsed, signer.publicKey))
    assert.ok(!noteVerifies(parsed, other.publicKey))
    assert.equal(parseNotes(signer.sign(checkpoint) + signer.sign({ ...checkpoint, seq: 8 })).length, 2)
  })

  test('malformed notes are refused with NoteFormatError', () => {
    const good = formatNote(checkpoint)
    for (const bad of [
      good.replace('lane 0\n', ''), // missing line
      good.replace('seq 7\n', 'seq 7\nextra 1\n'), // extra line
      good.replace('lane 0\nseq 7\n', 'seq 7\nlane 0\n'), // order
      good.replace('ab'.repeat(32), 'zz'.repeat(32)), // hex
      good.replace('seq 7', 'seq 0'),
      good.replace('seq 7', 'seq -1'),
      good.replace('seq 7', 'seq 99999999999999999999'),
      good.replaceAll('\n', '\r\n'),
      good + '\u2014 audit-stream !!!notbase64\n',
      good + 'x'.repeat(5000),
      '\u0000\uffff'
    ]) {
      assert.throws(() => parseNote(bad), NoteFormatError, JSON.stringify(bad.slice(0, 80)))
    }
  })

  test('a key that is not Ed25519 is refused as an option', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' })
    assert.throws(() => new NoteSigner(privateKey), { code: 'AUDIT_ERR_INVALID_OPTION' })
  })
})

describe('verifyChain', () => {
  const { privateKey } = generateKeyPairSync('ed25519')
  const signer = new NoteSigner(privateKey)
  const producerId = randomUUID()
  const raws = Array.from({ length: 20 }, (_, i) => JSON.stringify({ version: '1.0', correlation_id: 'c', n: i }))
  const hashes = chainEvents(producerId, 0, 1, GENESIS, raws)
  const hex = (seq: number): string => hashes.toString('hex', (seq - 1) * 32, seq * 32)
  const rows = (): ChainRow[] => raws.map((raw, i) => ({ seq: i + 1, raw, hash: hex(i + 1), event: { ...JSON.parse(raw), event_id: randomUUID() } }))
  const notes = [10, 20].map((seq, i) => parseNote(signer.sign({ kind: 'checkpoint', producerId, lane: 0, seq, head: hex(seq), time: `2026-12-02T19:00:0${i}.000Z` })))
  const run = (r: ChainRow[], n = notes): ReturnType<typeof verifyChain> => verifyChain({ producerId, lane: 0, rows: r, notes: n, publicKeys: [signer.publicKey] })

  test('an untouched lane verifies through its last checkpoint', () => {
    const result = run(rows())
    assert.equal(result.first_bad_seq, undefined)
    assert.equal(result.verified_through, 20)
    assert.equal(result.checkpoints, 2)
  })

  test('an edited served field fails as altered at that seq', () => {
    const r = rows()
    r[4] = { ...r[4]!, event: { ...r[4]!.event, n: 99 } }
    assert.deepEqual([run(r).first_bad_seq, run(r).reason, run(r).verified_through], [5, 'altered', 0])
  })

  test('a deleted row fails as missing, two swapped rows as reordered', () => {
    const deleted = rows().filter((row) => row.seq !== 12)
    assert.deepEqual([run(deleted).first_bad_seq, run(deleted).reason, run(deleted).verified_through], [12, 'missing', 10])
    const swapped = rows()
    const a = swapped[2]!
    const b = swapped[6]!
    swapped[2] = { ...b, seq: 3 }
    swapped[6] = { ...a, seq: 7 }
    assert.deepEqual([run(swapped).first_bad_seq, run(swapped).reason], [3, 'reordered'])
  })

  test('a chain recomputed after an edit is caught by the next checkpoint, verified only below the edit', () => {
    const edited = raws.slice()
    edited[13] = JSON.stringify({ version: '1.0', correlation_id: 'c', n: 'forged' })
    const forged = chainEvents(producerId, 0, 1, GENESIS, edited)
    const r = edited.map((raw, i) => ({ seq: i + 1, raw, hash: forged.toString('hex', i * 32, i * 32 + 32), event: JSON.parse(raw) as Record<string, unknown> }))
    const result = run(r)
    assert.deepEqual([result.first_bad_seq, result.reason, result.verified_through, result.chained_through], [20, 'signature', 10, 20])
  })

  test('a checkpoint older than one below it, or unsigned, fails as signature', () => {
    const replayed = [notes[0]!, parseNote(signer.sign({ kind: 'checkpoint', producerId, lane: 0, seq: 20, head: hex(20), time: '2026-12-02T18:00:00.000Z' }))]
    assert.deepEqual([run(rows(), replayed).first_bad_seq, run(rows(), replayed).reason], [20, 'signature'])
    const unsigned = [parseNote(formatNote({ kind: 'checkpoint', producerId, lane: 0, seq: 10, head: hex(10), time: '2026-12-02T19:00:00.000Z' }))]
    assert.deepEqual([run(rows(), unsigned).first_bad_seq, run(rows(), unsigned).reason], [10, 'signature'])
  })

  test('a signed skip covers a range with no rows: listed, and verification goes on past it', () => {
    const r = rows().filter((row) => row.seq < 6 || row.seq > 8)
    const skip = parseNote(signer.sign({ kind: 'skip', producerId, lane: 0, from: 6, to: 8, prev: hex(5), head: hex(8), reason: 'rejected', time: '2026-12-02T19:00:00.000Z' }))
    const result = run(r, [skip, ...notes])
    assert.equal(result.first_bad_seq, undefined)
    assert.deepEqual(result.skips, [{ from: 6, to: 8, reason: 'rejected' }])
    assert.equal(result.verified_through, 20)
  })

  test('hostile rows give a failed result, never a throw or an endless walk; a to past the rows is missing at the next seq', () => {
    assert.equal(run([{ seq: Number.NaN, raw: '{', hash: 'x', event: {} }]).reason, 'altered')
    assert.equal(run([{ seq: 1, raw: 'not json', hash: hex(1), event: {} }]).reason, 'altered')
    const huge = verifyChain({ producerId, lane: 0, to: Number.MAX_SAFE_INTEGER, rows: rows(), notes })
    assert.deepEqual([huge.first_bad_seq, huge.reason, huge.chained_through], [21, 'missing', 20])
  })
})
